"""The one factory for the shared HTTP client every provider call goes through.

Measured by ``bench/http_transports.py`` and ``bench/matrix.py`` (see their
docstrings for the figures): httpx's own transport spends several ms of CPU per
streamed call, which makes it fall behind at concurrency 64 on a 2-core machine.
Provider calls therefore keep httpx's API (and so our error mapping) over an
aiohttp connection pool, through :class:`AiohttpTransport` here. It replaced the
``httpx-aiohttp`` package's transport, which cProfile showed costing ~0.4 ms of CPU
per call on work the engine does not need: httpx's ``Headers.items()`` re-decoded
for every header (~0.3 ms alone), a netrc lookup in a worker thread and an
environment proxy lookup per request (aiohttp's ``trust_env``), and an SSL context
made for nothing. ``transport="httpx"`` remains for comparison and for runs of a few
calls, where importing aiohttp would cost more than it saves.

Two clocks for time to first token, both read in the caller's context:
:data:`REQUEST_SENT_AT` (the request body written) and :data:`FIRST_BYTE_AT` (when
the bytes of each answer chunk came off the socket, stamped in the connection's
``data_received``, not when the caller's task got round to reading them).
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Literal

import httpx

from workbench.providers.policy import Timeouts

if TYPE_CHECKING:
    import aiohttp

Transport = Literal["aiohttp", "httpx"]

REQUEST_SENT_AT: ContextVar[list[float] | None] = ContextVar("request_sent_at", default=None)
"""Set by a caller to a list; the aiohttp transport appends ``time.perf_counter()`` each
time a request body chunk has been written. The engine starts the time-to-first-token
clock there, so the readout measures the provider, not our own queueing and request
building (with httpx's own transport the engine falls back to its own start time)."""
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


def make_http_client(
    *,
    max_connections: int = 256,
    timeouts: Timeouts | None = None,
    transport: Transport = DEFAULT_TRANSPORT,
) -> httpx.AsyncClient:
    """A client for provider calls. Close it with ``await client.aclose()``.

    ``max_connections`` should be at least the engine's global concurrency so
    calls never wait for a pooled connection (the engine's own limits queue them).
    Proxies from the environment (``HTTPS_PROXY``, ``NO_PROXY``) are honoured; when none
    is set, nothing is looked up per request.
    """
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
    )
    timeout = (timeouts or Timeouts()).to_httpx()
    if transport == "aiohttp":
        return httpx.AsyncClient(
            transport=AiohttpTransport(max_connections=max_connections),
            timeout=timeout,
            follow_redirects=False,
            # Proxies are the aiohttp session's job (trust_env when one is configured):
            # with httpx's trust_env, an HTTPS_PROXY would route calls around this transport.
            trust_env=False,
        )

    async def on_request(_request: httpx.Request) -> None:
        # httpx has no "body written" hook; "about to send" is the closest it offers.
        box = REQUEST_SENT_AT.get()
        if box is not None:
            box.append(time.perf_counter())

    return httpx.AsyncClient(
        limits=limits,
        timeout=timeout,
        follow_redirects=False,
        event_hooks={"request": [on_request]},
    )


async def warm_http_client(client: httpx.AsyncClient) -> None:
    """Open the aiohttp session of a client from :func:`make_http_client` now, in the
    running loop, so the first call does not (a no-op for httpx's own transport)."""
    transport = getattr(client, "_transport", None)
    if isinstance(transport, AiohttpTransport):
        await transport.warm()


# ---- httpx over aiohttp ----------------------------------------------------------------


@functools.cache
def _aiohttp_errors() -> tuple[tuple[type[BaseException], type[httpx.HTTPError]], ...]:
    """aiohttp's failures and the httpx errors they become (as httpx-aiohttp maps them,
    so ``client.py``'s mapping and ``connection_cause`` see what they always saw)."""
    import aiohttp
    from aiohttp import client_exceptions as ce

    return (
        (aiohttp.ServerTimeoutError, httpx.TimeoutException),
        (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
        (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
        (aiohttp.ClientConnectionError, httpx.ConnectTimeout),
        (aiohttp.ClientConnectorError, httpx.ConnectError),
        (aiohttp.ClientPayloadError, httpx.ReadError),
        (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
        (aiohttp.ClientHttpProxyError, httpx.ProxyError),
        (ce.NonHttpUrlClientError, httpx.UnsupportedProtocol),
        (ce.InvalidUrlClientError, httpx.UnsupportedProtocol),
    )


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    try:
        yield
    except httpx.HTTPError:
        raise
    except Exception as exc:
        # The most specific aiohttp class decides: a refused connection
        # (ClientConnectorError) is a ConnectError, not its base's ConnectTimeout.
        mapped: type[httpx.HTTPError] | None = None
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

        def data_received(self, data: bytes) -> None:
            now = time.perf_counter()
            self.last_data_at = now
            if self.awaiting_body and data:
                self.awaiting_body = False
                self.first_body_at = now
            super().data_received(data)

    return StampingHandler


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, handler: Any) -> None:
        self._response = response
        self._handler = handler

    async def __aiter__(self) -> AsyncIterator[bytes]:
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

    async def aclose(self) -> None:
        with _mapped():
            await self._response.__aexit__(None, None, None)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx requests sent on one aiohttp session (made on first use, in the loop)."""

    def __init__(self, *, max_connections: int = 256, keepalive: float = 30.0) -> None:
        # Imported here, not at module import: aiohttp costs ~0.1-0.5 s to import, and
        # only calls need it. Its default SSL contexts are made during this import.
        import aiohttp  # noqa: F401

        self._limit = max_connections
        self._keepalive = keepalive
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        import asyncio

        import aiohttp

        async def on_sent(_s: aiohttp.ClientSession, _ctx: object, _params: object) -> None:
            box = REQUEST_SENT_AT.get()
            if box is not None:
                box.append(time.perf_counter())

        trace = aiohttp.TraceConfig()
        trace.on_request_chunk_sent.append(on_sent)
        connector = aiohttp.TCPConnector(limit=self._limit, keepalive_timeout=self._keepalive)
        if hasattr(connector, "_factory"):  # the protocol factory (aiohttp 3.x)
            handler: Any = _stamping_handler()
            connector._factory = functools.partial(handler, loop=asyncio.get_running_loop())
        return aiohttp.ClientSession(
            connector=connector,
            trace_configs=[trace],
            # trust_env makes aiohttp look for a proxy and a ~/.netrc entry (in a worker
            # thread) on every request: only when a proxy is configured. Provider keys
            # go in headers; netrc credentials are never wanted.
            trust_env=proxies_configured(),
            auto_decompress=False,  # httpx decodes Content-Encoding itself
            # httpx keeps the client's cookies; a second jar here would send them twice
            # (and costs a lookup per request).
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def warm(self) -> None:
        """Make the session now (in the running loop), before the first request."""
        if self._session is None:
            self._session = self._open()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import aiohttp

        if self._session is None:
            self._session = self._open()
        timeout = request.extensions.get("timeout", {})
        try:
            data: bytes | httpx.AsyncByteStream | None = request.content or None
        except httpx.RequestNotRead:
            data = request.stream  # type: ignore[assignment]
            request.headers.pop("transfer-encoding", None)  # aiohttp chunks it itself
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        with _mapped():
            response = await self._session.request(
                request.method,
                str(request.url),
                headers=headers,
                data=data,
                allow_redirects=False,
                compress=False,
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                    connect=timeout.get("pool"),
                ),
                server_hostname=request.extensions.get("sni_hostname"),
            ).__aenter__()
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
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_ResponseStream(response, handler),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
