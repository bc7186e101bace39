"""What every HTTP provider family shares: sending, retrying, mapping failures.

A family module says only what differs (URL, headers, body, how to read its
stream and its error bodies). This base does the call under the one
:class:`~workbench.providers.policy.RetryPolicy`, turns every transport failure and
every error status into the one error tree, and checks that a stream really
finished. Retries happen only before the first event of an answer: a half-sent
answer is never silently restarted, so what the engine measures is what happened.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import errno
import json
import logging
import socket
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from workbench.providers.base import (
    ChatRequest,
    Finish,
    ProviderClient,
    RetryNotice,
    StreamEvent,
    TextDelta,
    Usage,
    estimated_usage,
)
from workbench.providers.errors import (
    BrokenStreamError,
    ConnectionFailed,
    ProtocolError,
    ProviderError,
    ProviderTimeout,
    ServerError,
    error_for_status,
    without_key,
)
from workbench.providers.http import (
    ProviderHttp,
    WireBadURL,
    WireConnectError,
    WireConnectTimeout,
    WireError,
    WireResponse,
    WireTimeout,
)
from workbench.providers.policy import RetryClock, RetryPolicy, Timeouts, parse_retry_after
from workbench.providers.sse import SSEDecoder, SSEEvent

log = logging.getLogger(__name__)

MAX_ERROR_BODY = 64 * 1024
Sleep = Callable[[float], Awaitable[None]]


class HttpProviderClient(ProviderClient):
    """Base for the four HTTP families. ``api_key`` is held here and sent only in headers."""

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        api_key: str | None,
        http: ProviderHttp,
        policy: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key or None
        self._http = http
        self.policy = policy or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        self._sleep = sleep

    def __repr__(self) -> str:  # never show the key
        return f"{type(self).__name__}(name={self.name!r}, base_url={self.base_url!r})"

    # -- what each family fills in -------------------------------------------------

    @abc.abstractmethod
    def _chat_url(self, request: ChatRequest) -> str: ...

    @abc.abstractmethod
    def _auth_headers(self) -> dict[str, str]: ...

    @abc.abstractmethod
    def _chat_body(self, request: ChatRequest) -> dict[str, Any]: ...

    @abc.abstractmethod
    def _stream_events(
        self, response: WireResponse, request: ChatRequest
    ) -> AsyncGenerator[StreamEvent, None]:
        """Read a 2xx streaming answer; must end with a :class:`Finish`."""

    @abc.abstractmethod
    def _whole_events(self, body: Any, request: ChatRequest) -> list[StreamEvent]:
        """Read a 2xx non-streaming JSON answer."""

    @abc.abstractmethod
    def _error_detail(self, body: Any) -> tuple[str, str]:
        """(message, kind) from an error body; kind is "authentication" or ""."""

    # -- the call --------------------------------------------------------------------

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        clock = RetryClock(self.policy)
        url = self._chat_url(request)
        headers = self._auth_headers()
        body = self._chat_body(request)
        while True:
            clock.attempt += 1
            delivered = False
            try:
                # Every async generator of a call is closed when the call is done with
                # it (aclosing): one left to the garbage collector is closed by a task
                # asyncio schedules through its self-pipe, two per call otherwise.
                async with contextlib.aclosing(self._attempt(url, headers, body, request)) as go:
                    async for event in go:
                        delivered = True
                        yield event
                return
            except ProviderError as err:
                wait = None if delivered else clock.next_wait(err)
                if wait is None:
                    raise
                log.info("%s: %s; retry %d in %.2fs", self.name, err.kind, clock.attempt, wait)
                yield RetryNotice(attempt=clock.attempt, reason=_reason(err), wait=wait, error=err)
                await self._sleep(wait)

    async def _attempt(
        self, url: str, headers: dict[str, str], body: dict[str, Any], request: ChatRequest
    ) -> AsyncGenerator[StreamEvent, None]:
        streaming = False
        finished = False
        first_byte = self.timeouts.first_byte if request.stream else None
        try:
            async with contextlib.AsyncExitStack() as stack:
                sending = self._http.stream(url, body=body, headers=headers, timeouts=self.timeouts)
                try:
                    async with asyncio.timeout(first_byte):
                        response = await stack.enter_async_context(sending)
                except TimeoutError:
                    raise ProviderTimeout(
                        f"no response within {first_byte:g}s (first-byte timeout)",
                        provider=self.name,
                        model=request.model,
                    ) from None
                if response.status_code >= 400:
                    raise await self._status_error(response, request.model)
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind in ("text/html", "application/xhtml+xml"):
                    # A web page, not an API (a base URL without /v1, a login portal, a
                    # proxy's error page): say so rather than "the stream had no choices".
                    page = urlsplit(str(url))._replace(query="", fragment="").geturl()
                    raise ProtocolError(
                        f"{page} answered with a web page ({kind}), not the API",
                        hint="Check the profile's base URL: it should be the API's address "
                        "(for OpenAI-compatible servers it usually ends in /v1), not a website.",
                        provider=self.name,
                        model=request.model,
                    )
                if not request.stream:
                    data = self._json(await response.aread(), request.model)
                    for event in self._whole_events(data, request):
                        yield event
                    return
                streaming = True
                async with contextlib.aclosing(self._stream_events(response, request)) as events:
                    async for event in events:
                        finished = isinstance(event, Finish)
                        yield event
        except WireError as exc:
            raise self._transport_error(exc, request.model, streaming=streaming) from None
        if streaming and not finished:
            raise BrokenStreamError(
                "the stream ended before the answer was finished",
                provider=self.name,
                model=request.model,
            )

    async def list_models(self) -> list[str]:
        """Model names from the provider's listing endpoint(s), sorted and unique."""
        return sorted(set(await self._list_models()))

    @abc.abstractmethod
    async def _list_models(self) -> list[str]: ...

    async def _get_json(self, url: str, params: dict[str, str] | None = None) -> Any:
        """One GET under the retry policy, returning parsed JSON."""
        clock = RetryClock(self.policy)
        while True:
            clock.attempt += 1
            try:
                try:
                    response = await self._http.get(
                        url, params=params, headers=self._auth_headers(), timeouts=self.timeouts
                    )
                except WireError as exc:
                    raise self._transport_error(exc, "", streaming=False) from None
                if response.status_code >= 400:
                    raise await self._status_error(response, "")
                return self._json(await response.aread(), "")
            except ProviderError as err:
                wait = clock.next_wait(err)
                if wait is None:
                    raise
                await self._sleep(wait)

    # -- failure mapping ---------------------------------------------------------------

    async def _status_error(self, response: WireResponse, model: str) -> ProviderError:
        raw = b""
        try:
            async with contextlib.aclosing(response.aiter_bytes()) as chunks:
                async for chunk in chunks:
                    raw += chunk
                    if len(raw) >= MAX_ERROR_BODY:
                        break
        except WireError:
            pass  # the status alone is enough to classify
        text = raw.decode("utf-8", errors="replace")
        try:
            message, kind = self._error_detail(json.loads(text))
        except (ValueError, TypeError, KeyError, AttributeError):
            message, kind = text, ""
        return error_for_status(
            response.status_code,
            without_key(message, self._api_key),
            provider=self.name,
            model=model,
            retry_after=parse_retry_after(response.headers),
            kind=kind,
        )

    def _transport_error(self, exc: WireError, model: str, *, streaming: bool) -> ProviderError:
        where = without_key(str(exc), self._api_key) or type(exc).__name__
        cause = connection_cause(exc)
        # The aiohttp transport reports any dropped connection as ConnectTimeout.
        if isinstance(exc, WireConnectTimeout | WireConnectError) and streaming:
            return BrokenStreamError(
                f"the connection broke mid-answer ({where})", provider=self.name, model=model
            )
        if cause is not None:
            shown = (
                f"connect timeout {self.timeouts.connect:g}s"
                if cause == "connect timeout"
                else cause
            )
            failed = ConnectionFailed(
                f"could not connect to {self.base_url}: {shown}", provider=self.name, model=model
            )
            failed.cause = cause
            return failed
        if isinstance(exc, WireConnectTimeout | WireConnectError):  # some other failure
            return ConnectionFailed(
                f"could not reach {self.base_url} ({where})", provider=self.name, model=model
            )
        if isinstance(exc, WireTimeout):
            what = (
                f"the stream stalled for more than {self.timeouts.read:g}s"
                if streaming
                else f"no answer within {self.timeouts.read:g}s"
            )
            return ProviderTimeout(what, provider=self.name, model=model)
        if streaming:
            return BrokenStreamError(
                f"the connection broke mid-answer ({where})", provider=self.name, model=model
            )
        if isinstance(exc, WireBadURL):
            err = ConnectionFailed(
                f"cannot call {self.base_url}: {where}",
                provider=self.name,
                model=model,
                hint="The profile's base URL must start with http:// or https://.",
            )
            err.retryable = False
            return err
        return ConnectionFailed(
            f"could not reach {self.base_url} ({where})", provider=self.name, model=model
        )

    def _json(self, raw: bytes | str, model: str) -> Any:
        try:
            return json.loads(raw)
        except ValueError:
            text = raw if isinstance(raw, str) else raw.decode("utf-8", errors="replace")
            shown = without_key(text, self._api_key)[:120]
            raise self._protocol(f"not JSON: {shown!r}", model) from None

    def _protocol(self, message: str, model: str) -> ProtocolError:
        return ProtocolError(message, provider=self.name, model=model)

    def _stream_json(self, data: str, model: str) -> Any:
        """One stream event's JSON payload; garbled data is a protocol error (key redacted)."""
        try:
            return json.loads(data)
        except ValueError:
            shown = without_key(data, self._api_key)[:80]
            raise self._protocol(f"garbled stream data: {shown!r}", model) from None

    def _mid_stream_error(self, message: str, model: str) -> ServerError:
        """An error the provider reported inside a 2xx stream."""
        return ServerError(
            f"error mid-stream: {without_key(message, self._api_key)}",
            provider=self.name,
            model=model,
        )


def text_events(text: str) -> list[StreamEvent]:
    """A whole answer as events (for non-streaming replies)."""
    return [TextDelta(text)] if text else []


def whole_answer(
    request: ChatRequest, text: str, usage: Usage | None, finish: Finish
) -> list[StreamEvent]:
    """A non-streaming answer's events: its text, its usage (estimated when the provider
    reported none) and how it finished."""
    return [*text_events(text), usage or estimated_usage(request, text), finish]


def connection_cause(exc: BaseException) -> str | None:
    """What really stopped a connection, from the exception's chain: "connection refused",
    "connect timeout", "host not found", or "connection closed by the server"; None when
    it was none of these (the WireError itself says less: aiohttp reports several as one)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = type(current).__name__
        if isinstance(current, ConnectionRefusedError) or (
            isinstance(current, OSError) and current.errno == errno.ECONNREFUSED
        ):
            return "connection refused"
        if name == "ConnectionTimeoutError" or (
            name == "ConnectTimeout" and type(current).__module__.startswith("httpcore")
        ):
            return "connect timeout"
        if isinstance(current, socket.gaierror) or name == "ClientConnectorDNSError":
            return "host not found"
        if name == "ServerDisconnectedError" or isinstance(current, ConnectionResetError):
            return "connection closed by the server"
        current = current.__cause__ or current.__context__
    return None


def _reason(err: ProviderError) -> str:
    return f"HTTP {err.status}" if err.status is not None else err.kind


async def iter_sse(response: WireResponse) -> AsyncGenerator[SSEEvent, None]:
    """The SSE events of a streaming response, as they arrive. Close it (``aclosing``)
    when stopping early, as it closes the response's byte stream."""
    decoder = SSEDecoder()
    async with contextlib.aclosing(response.aiter_bytes()) as chunks:
        async for chunk in chunks:
            for event in decoder.feed(chunk):
                yield event
    for event in decoder.close():
        yield event
