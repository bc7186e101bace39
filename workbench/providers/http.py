"""The HTTP every provider call goes through: :class:`ProviderHttp`, and its factory.

A provider client needs two things of HTTP: send a JSON POST and read its answer as it
streams (:meth:`ProviderHttp.stream`), and GET a JSON listing (:meth:`ProviderHttp.get`).
Both implementations raise this module's :class:`WireError` tree for every transport
failure (the library's own exception kept as ``__cause__``), so the provider base
(``client.py``) maps one error tree whichever is used, and a run imports only the
library it calls through:

- ``"aiohttp"`` (the default): aiohttp directly, one session and connection pool.
  Measured by ``bench/http_transports.py`` and ``bench/matrix.py`` (figures in the
  README): httpx in front of aiohttp (our earlier ``AiohttpTransport``) spent about as
  much CPU per streamed call building and wrapping httpx's request, response and
  stream objects as aiohttp spent on the call itself (py-spy of a 1,200-call matrix: 40%
  of the event loop's time under ``httpx.AsyncClient.stream``).
- ``"httpx"``: httpx's own transport, for comparison (and kept by the tests so both
  paths stay honest).

Two clocks for time to first token, both read in the caller's context:
:data:`REQUEST_SENT_AT` (the request body written) and :data:`FIRST_BYTE_AT` (when
the bytes of each answer chunk came off the socket, stamped in the connection's
``data_received``, not when the caller's task got round to reading them).
"""

from __future__ import annotations

import abc
import contextlib
import functools
import json
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol

from workbench.providers.policy import Timeouts

if TYPE_CHECKING:
    import aiohttp
    import httpx

Transport = Literal["aiohttp", "httpx"]

REQUEST_SENT_AT: ContextVar[list[float] | None] = ContextVar("request_sent_at", default=None)
"""Set by a caller to a list; each transport appends ``time.perf_counter()`` when a request
is sent (aiohttp: as it starts writing the request to the socket; httpx: just before
sending, the closest hook it has). The engine starts the time-to-first-token clock
there, so the readout measures the provider, not our own queueing and request building."""
FIRST_BYTE_AT: ContextVar[list[float] | None] = ContextVar("first_byte_at", default=None)
"""Set by a caller to a list; the aiohttp transport appends, for each chunk of an answer
it hands over, the ``time.perf_counter()`` at which that chunk's bytes were read from
the socket. When many answers arrive together, the engine's own work on the others
(parsing, observers, the vault) is then not charged to the model's TTFT."""
DEFAULT_TRANSPORT: Transport = "aiohttp"
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "ws_proxy", "wss_proxy")


def proxies_configured(environ: os._Environ[str] | dict[str, str] | None = None) -> bool:
    """True when the environment names a proxy (``HTTPS_PROXY`` and friends, any case)."""
    env = os.environ if environ is None else environ
    return any(k.lower() in _PROXY_VARS and v for k, v in env.items())


class WireError(Exception):
    """A request that got no answer, or not all of it (there is no status to read)."""


class WireTimeout(WireError):
    """Nothing happened within a timeout."""


class WireConnectTimeout(WireTimeout):
    """No connection within the connect timeout."""


class WireReadTimeout(WireTimeout):
    """The answer stopped: no bytes within the read timeout."""


class WireConnectError(WireError):
    """No connection (refused, host not found, closed before answering); the cause is in
    the exception's chain (see ``client.connection_cause``)."""


class WireReadError(WireError):
    """The connection broke, or the answer was malformed, while it was being read."""


class WireProxyError(WireError):
    """The configured proxy refused or failed."""


class WireBadURL(WireError):
    """The URL cannot be called (no http:// or https://, or malformed)."""


class WireResponse(Protocol):
    """What a provider reads of an answer."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Looked up case-insensitively."""
        ...

    def aiter_bytes(self) -> AsyncGenerator[bytes, None]: ...

    async def aread(self) -> bytes: ...


class ProviderHttp(abc.ABC):
    """The HTTP a provider client uses. Transport failures raise :class:`WireError`.
    Close it with ``await http.aclose()`` (or use it as an async context manager)."""

    def __init__(self, timeouts: Timeouts | None) -> None:
        self.timeouts = timeouts or Timeouts()
        """Used by a request that names none."""

    @abc.abstractmethod
    def stream(
        self,
        url: str,
        *,
        body: Any,
        headers: Mapping[str, str],
        timeouts: Timeouts | None = None,
    ) -> contextlib.AbstractAsyncContextManager[WireResponse]:
        """POST ``body`` as JSON; the answer, its body read as it arrives."""

    @abc.abstractmethod
    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeouts: Timeouts | None = None,
    ) -> WireResponse:
        """GET; the answer with its whole body read."""

    async def warm(self) -> None:  # noqa: B027 - optional: nothing to open by default
        """Open what the first request would open, now, in the running loop."""

    @abc.abstractmethod
    async def aclose(self) -> None: ...

    async def __aenter__(self) -> ProviderHttp:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def make_http_client(
    *,
    max_connections: int = 256,
    timeouts: Timeouts | None = None,
    transport: Transport = DEFAULT_TRANSPORT,
) -> ProviderHttp:
    """The HTTP for provider calls. Close it with ``await http.aclose()``.

    ``max_connections`` should be at least the engine's global concurrency so
    calls never wait for a pooled connection (the engine's own limits queue them).
    Proxies from the environment (``HTTPS_PROXY``, ``NO_PROXY``) are honoured; when none
    is set, nothing is looked up per request. ``timeouts``: for requests that name none.
    """
    if transport == "aiohttp":
        return AiohttpHttp(max_connections=max_connections, timeouts=timeouts)
    return HttpxHttp(max_connections=max_connections, timeouts=timeouts)


# ---- httpx's own transport -------------------------------------------------------------


@contextlib.contextmanager
def _httpx_mapped() -> Iterator[None]:
    import httpx

    try:
        yield
    except httpx.HTTPError as exc:
        mapped: type[WireError] = WireReadError
        if isinstance(exc, httpx.ConnectTimeout):
            mapped = WireConnectTimeout
        elif isinstance(exc, httpx.ReadTimeout):
            mapped = WireReadTimeout
        elif isinstance(exc, httpx.TimeoutException):
            mapped = WireTimeout
        elif isinstance(exc, httpx.ConnectError):
            mapped = WireConnectError
        elif isinstance(exc, httpx.ProxyError):
            mapped = WireProxyError
        elif isinstance(exc, httpx.UnsupportedProtocol):
            mapped = WireBadURL
        raise mapped(str(exc)) from exc
    except httpx.InvalidURL as exc:
        raise WireBadURL(str(exc)) from exc


class _HttpxResponse:
    """An httpx answer as a :class:`WireResponse`, its failures as :class:`WireError`."""

    __slots__ = ("_response", "headers", "status_code")

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status_code = response.status_code
        self.headers: Mapping[str, str] = response.headers

    async def aiter_bytes(self) -> AsyncGenerator[bytes, None]:
        with _httpx_mapped():
            async with contextlib.aclosing(self._response.aiter_bytes()) as chunks:  # type: ignore[type-var]
                async for chunk in chunks:
                    yield chunk

    async def aread(self) -> bytes:
        with _httpx_mapped():
            return await self._response.aread()


class HttpxHttp(ProviderHttp):
    """Provider calls through an ``httpx.AsyncClient`` and its own transport."""

    def __init__(self, *, max_connections: int = 256, timeouts: Timeouts | None = None) -> None:
        import httpx

        super().__init__(timeouts)

        async def on_request(_request: httpx.Request) -> None:
            # httpx has no "body written" hook; "about to send" is the closest it offers.
            box = REQUEST_SENT_AT.get()
            if box is not None:
                box.append(time.perf_counter())

        self.client = httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
                keepalive_expiry=30.0,
            ),
            timeout=self.timeouts.to_httpx(),
            follow_redirects=False,
            event_hooks={"request": [on_request]},
        )

    @contextlib.asynccontextmanager
    async def stream(
        self,
        url: str,
        *,
        body: Any,
        headers: Mapping[str, str],
        timeouts: Timeouts | None = None,
    ) -> AsyncIterator[WireResponse]:
        timeout = (timeouts or self.timeouts).to_httpx()
        sending = self.client.stream("POST", url, json=body, headers=dict(headers), timeout=timeout)
        with _httpx_mapped():
            response = await sending.__aenter__()
        try:
            yield _HttpxResponse(response)
        finally:
            with _httpx_mapped():
                await sending.__aexit__(None, None, None)

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeouts: Timeouts | None = None,
    ) -> WireResponse:
        with _httpx_mapped():
            response = await self.client.get(
                url,
                params=dict(params) if params else None,
                headers=dict(headers) if headers else None,
                timeout=(timeouts or self.timeouts).to_httpx(),
            )
        return _HttpxResponse(response)

    async def aclose(self) -> None:
        await self.client.aclose()


# ---- aiohttp directly ------------------------------------------------------------------


@functools.cache
def _aiohttp_errors() -> tuple[tuple[type[BaseException], type[WireError]], ...]:
    """aiohttp's failures and the :class:`WireError` each becomes (``client.py``'s
    ``connection_cause`` reads the chain for what really happened)."""
    import aiohttp
    from aiohttp import client_exceptions as ce

    return (
        (aiohttp.ServerTimeoutError, WireTimeout),
        (aiohttp.SocketTimeoutError, WireReadTimeout),
        (aiohttp.ConnectionTimeoutError, WireConnectTimeout),
        (aiohttp.ClientConnectionError, WireConnectError),
        (aiohttp.ClientConnectorError, WireConnectError),
        (aiohttp.ClientPayloadError, WireReadError),
        (aiohttp.ClientProxyConnectionError, WireProxyError),
        (aiohttp.ClientHttpProxyError, WireProxyError),
        (ce.NonHttpUrlClientError, WireBadURL),
        (ce.InvalidUrlClientError, WireBadURL),
    )


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except WireError:
        raise
    except Exception as exc:
        # The most specific aiohttp class decides: a refused connection
        # (ClientConnectorError) is a ConnectError, not its base's ConnectTimeout.
        mapped: type[WireError] | None = None
        matched: type[BaseException] | None = None
        for source, target in _aiohttp_errors():
            if isinstance(exc, source) and (matched is None or issubclass(source, matched)):
                mapped, matched = target, source
        if mapped is None:
            raise
        raise mapped(str(exc)) from exc


@functools.cache
def _stamping_handler() -> type[Any]:
    """aiohttp's connection protocol, noting when answer bytes come off the socket."""
    from aiohttp.client_proto import ResponseHandler

    class StampingHandler(ResponseHandler):
        awaiting_body = False
        first_body_at: float | None = None
        last_data_at = 0.0
        _read_from = 0.0

        if all(
            hasattr(ResponseHandler, name)
            for name in ("_reschedule_timeout", "_on_read_timeout", "_drop_timeout")
        ):

            def _reschedule_timeout(self) -> None:
                # The read (stall) timeout as one timer per timeout period, not one per
                # chunk: aiohttp cancels and makes a timer on every read (~2% of a
                # 1,200-call run's event loop). Each read moves the deadline; a timer
                # that fires before it re-arms itself for the rest.
                timeout = self._read_timeout
                if not timeout:
                    self._drop_timeout()
                    return
                self._read_from = self._loop.time()
                if self._read_timeout_handle is None:
                    self._read_timeout_handle = self._loop.call_at(
                        self._read_from + timeout, self._read_deadline
                    )

            def _read_deadline(self) -> None:
                self._read_timeout_handle = None
                timeout = self._read_timeout
                if not timeout:
                    return
                left = self._read_from + timeout - self._loop.time()
                if left > 0:
                    self._read_timeout_handle = self._loop.call_later(left, self._read_deadline)
                else:
                    self._on_read_timeout()

        def data_received(self, data: bytes) -> None:
            now = time.perf_counter()
            self.last_data_at = now
            if self.awaiting_body and data:
                self.awaiting_body = False
                self.first_body_at = now
            super().data_received(data)

    return StampingHandler


@functools.cache
def _stamping_request() -> type[Any]:
    """aiohttp's request, noting in REQUEST_SENT_AT when it starts writing its body.

    ``write_bytes`` runs in the task that sends the (buffered) headers and the body, a
    copy of the caller's context (so the caller's list), right before the first byte
    goes to the socket: the clock starts after our own queueing and request building
    and before the server can have seen the request, so no reading falls below the
    server's own delay. (A trace's ``on_request_chunk_sent`` said the same, for a Trace,
    its context and ~10 parameter objects per request; stamping after the write, in
    the protocol's ``start_timeout``, read up to ~0.1 ms below the server's delay.)"""
    from aiohttp import ClientRequest

    class StampingRequest(ClientRequest):
        async def write_bytes(self, *args: Any, **kwargs: Any) -> None:
            box = REQUEST_SENT_AT.get()
            if box is not None:
                box.append(time.perf_counter())
            await super().write_bytes(*args, **kwargs)

    return StampingRequest


class _AiohttpResponse:
    """An aiohttp answer as a :class:`WireResponse`; its chunks stamped in FIRST_BYTE_AT."""

    __slots__ = ("_handler", "_response", "headers", "status_code")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status_code: int = response.status
        self.headers: Mapping[str, str] = response.headers
        handler: Any = None
        connection = response.connection
        if connection is not None and hasattr(connection.protocol, "awaiting_body"):
            handler = connection.protocol
            handler.first_body_at = None
            if response.content.is_eof() or response.content.total_bytes:
                # The body (or its start) came with the headers, in the last read.
                handler.first_body_at = handler.last_data_at
            else:
                handler.awaiting_body = True
        self._handler = handler

    async def aiter_bytes(self) -> AsyncGenerator[bytes, None]:
        box = FIRST_BYTE_AT.get()
        handler = self._handler
        first = True
        with _mapped():
            async for chunk in self._response.content.iter_any():
                if box is not None:
                    at = None
                    if handler is not None:
                        at = handler.first_body_at if first else handler.last_data_at
                        handler.first_body_at = None
                    box.append(at or time.perf_counter())
                first = False
                yield chunk

    async def aread(self) -> bytes:
        with _mapped():
            return await self._response.read()


class AiohttpHttp(ProviderHttp):
    """Provider calls on one aiohttp session (made on first use, in the running loop)."""

    def __init__(
        self,
        *,
        max_connections: int = 256,
        keepalive: float = 30.0,
        timeouts: Timeouts | None = None,
    ) -> None:
        # Imported here, not at module import: aiohttp costs ~0.1-0.5 s to import, and
        # only calls need it. Its default SSL contexts are made during this import, which
        # the engine does on a worker thread while it plans.
        import aiohttp  # noqa: F401

        super().__init__(timeouts)
        self._limit = max_connections
        self._keepalive = keepalive
        self._session: aiohttp.ClientSession | None = None
        self._client_timeouts: dict[Timeouts, aiohttp.ClientTimeout] = {}

    def _open(self) -> aiohttp.ClientSession:
        import asyncio

        import aiohttp

        connector = aiohttp.TCPConnector(limit=self._limit, keepalive_timeout=self._keepalive)
        if hasattr(connector, "_factory"):  # the protocol factory (aiohttp 3.x)
            handler: Any = _stamping_handler()
            connector._factory = functools.partial(handler, loop=asyncio.get_running_loop())
        return aiohttp.ClientSession(
            connector=connector,
            request_class=_stamping_request(),
            # trust_env makes aiohttp look for a proxy and a ~/.netrc entry (in a worker
            # thread) on every request: only when a proxy is configured. Provider keys
            # go in headers; netrc credentials are never wanted.
            trust_env=proxies_configured(),
            # Provider APIs set no cookies worth keeping; a jar costs a lookup per request.
            cookie_jar=aiohttp.DummyCookieJar(),
            # Error statuses are read by the provider base, not raised here.
            raise_for_status=False,
        )

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = self._open()
        return self._session

    def _timeout(self, timeouts: Timeouts | None) -> aiohttp.ClientTimeout:
        chosen = timeouts or self.timeouts
        made = self._client_timeouts.get(chosen)
        if made is None:
            import aiohttp

            made = aiohttp.ClientTimeout(
                sock_connect=chosen.connect, sock_read=chosen.read, connect=chosen.pool
            )
            self._client_timeouts[chosen] = made
        return made

    async def warm(self) -> None:
        self._session_now()

    def stream(
        self,
        url: str,
        *,
        body: Any,
        headers: Mapping[str, str],
        timeouts: Timeouts | None = None,
    ) -> contextlib.AbstractAsyncContextManager[WireResponse]:
        from aiohttp.payload import BytesPayload

        data = BytesPayload(_JSON.encode(body).encode(), content_type="application/json")
        sending = self._session_now().request(
            "POST", url, data=data, headers=headers, allow_redirects=False,
            timeout=self._timeout(timeouts),
        )  # fmt: skip
        return _Streaming(sending)

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeouts: Timeouts | None = None,
    ) -> WireResponse:
        with _mapped():
            response = await self._session_now().request(
                "GET",
                url,
                params=dict(params) if params else None,
                headers=dict(headers) if headers else None,
                allow_redirects=False,
                timeout=self._timeout(timeouts),
            )
            try:
                body = await response.read()
            finally:
                response.release()
        return _ReadResponse(response.status, response.headers, body)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""Request bodies: compact UTF-8 JSON, as httpx sends it (one encoder, made once)."""


class _Streaming:
    """``async with``: the answer to a sent request (its status and headers read), whose
    connection goes back to the pool (or is closed, if the body was not read) on exit."""

    __slots__ = ("_response", "_sending")

    def __init__(self, sending: Any) -> None:
        self._sending = sending
        self._response: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> WireResponse:
        with _mapped():
            self._response = await self._sending
        return _AiohttpResponse(self._response)

    async def __aexit__(self, *_exc: object) -> None:
        if self._response is not None:
            self._response.release()


class _ReadResponse:
    """An answer whose body has been read whole."""

    __slots__ = ("body", "headers", "status_code")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status_code = status
        self.headers = headers
        self.body = body

    async def aiter_bytes(self) -> AsyncGenerator[bytes, None]:
        if self.body:
            yield self.body

    async def aread(self) -> bytes:
        return self.body
