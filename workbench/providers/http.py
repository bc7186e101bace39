"""The one factory for the shared HTTP client every provider call goes through.

Measured by ``bench/http_transports.py`` (see its docstring for the figures):
httpx's own transport spends several ms of CPU per streamed call, which makes
it fall behind at concurrency 64 on a 2-core machine; the ``httpx-aiohttp``
transport keeps httpx's API (and so our error mapping) over aiohttp's faster
connection handling. ``transport="httpx"`` remains for comparison and as a
fallback.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Literal

import httpx

from workbench.providers.policy import Timeouts

Transport = Literal["aiohttp", "httpx"]

REQUEST_SENT_AT: ContextVar[list[float] | None] = ContextVar("request_sent_at", default=None)
"""Set by a caller to a list; the aiohttp transport appends ``time.perf_counter()`` each
time a request body chunk has been written. The engine starts the time-to-first-token
clock there, so the readout measures the provider, not our own queueing and request
building (with httpx's own transport the engine falls back to its own start time)."""
DEFAULT_TRANSPORT: Transport = "aiohttp"


def make_http_client(
    *,
    max_connections: int = 256,
    timeouts: Timeouts | None = None,
    transport: Transport = DEFAULT_TRANSPORT,
) -> httpx.AsyncClient:
    """A client for provider calls. Close it with ``await client.aclose()``.

    ``max_connections`` should be at least the engine's global concurrency so
    calls never wait for a pooled connection (the engine's own limits queue them).
    ``trust_env`` stays on so corporate proxies (HTTPS_PROXY) keep working.
    """
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
    )
    timeout = (timeouts or Timeouts()).to_httpx()
    if transport == "aiohttp":
        # Imported here: aiohttp costs ~0.1-0.5 s to import, and only calls need it.
        import aiohttp
        from httpx_aiohttp import AiohttpTransport

        async def on_sent(_session: aiohttp.ClientSession, _ctx: object, _params: object) -> None:
            box = REQUEST_SENT_AT.get()
            if box is not None:
                box.append(time.perf_counter())

        def session() -> aiohttp.ClientSession:
            # Made on first use, inside the running event loop, as aiohttp requires.
            connector = aiohttp.TCPConnector(limit=max_connections, keepalive_timeout=30.0)
            trace = aiohttp.TraceConfig()
            trace.on_request_chunk_sent.append(on_sent)
            return aiohttp.ClientSession(connector=connector, trust_env=True, trace_configs=[trace])

        return httpx.AsyncClient(
            transport=AiohttpTransport(limits=limits, client=session),
            timeout=timeout,
            follow_redirects=False,
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
