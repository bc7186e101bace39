"""The provider HTTP (workbench/providers/http.py), aiohttp directly and httpx's own
transport, against real sockets on 127.0.0.1: requests and answers pass through whole,
failures map to the httpx errors the provider clients expect, and the TTFT clock's stamps
are taken."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest

from tests.providerserver import DEFAULT_KEY, ProviderServer
from workbench.providers.client import connection_cause
from workbench.providers.http import (
    FIRST_BYTE_AT,
    REQUEST_SENT_AT,
    Transport,
    WireBadURL,
    WireConnectError,
    WireTimeout,
    make_http_client,
    proxies_configured,
)
from workbench.providers.policy import Timeouts


def chat_body(model: str, stream: bool) -> dict[str, Any]:
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}


def headers() -> dict[str, str]:
    return {"authorization": f"Bearer {DEFAULT_KEY}", "x-workbench-test": "yes"}


async def _whole(server: ProviderServer, transport: Transport, model: str) -> tuple[int, str, Any]:
    async with make_http_client(transport=transport) as client:
        await client.warm()
        url = server.base_url("openai") + "/chat/completions"
        body = chat_body(model, False)
        async with client.stream(url, body=body, headers=headers()) as r:
            return r.status_code, r.headers["Content-Type"], json.loads(await r.aread())


def test_a_request_and_its_answer_pass_through_whole(
    server: ProviderServer, transport: Transport
) -> None:
    model = f"tr-whole-{transport}"
    server.script(model, text="one two three")
    status, kind, answer = asyncio.run(_whole(server, transport, model))
    assert status == 200
    assert kind.startswith("application/json")
    assert answer["choices"][0]["message"]["content"] == "one two three"
    (seen,) = server.requests_for(model)
    assert seen.method == "POST" and seen.headers["x-workbench-test"] == "yes"
    assert seen.headers["content-type"] == "application/json"
    assert seen.body == chat_body(model, False)


def test_a_listing_is_read_whole_with_its_query(server: ProviderServer) -> None:
    async def go() -> tuple[int, Any]:
        async with make_http_client(transport="aiohttp") as client:
            url = server.base_url("openai") + "/models"
            r = await client.get(url, params={"limit": "5"}, headers=headers())
            chunks = [c async for c in r.aiter_bytes()]
            assert b"".join(chunks) == await r.aread()
            return r.status_code, json.loads(await r.aread())

    status, listing = asyncio.run(go())
    assert status == 200 and isinstance(listing["data"], list)


def test_a_streamed_answer_is_stamped_when_its_bytes_arrive(server: ProviderServer) -> None:
    server.script("tr-stream", text="alpha beta gamma delta", chunks=4, chunk_delay=0.01)

    async def go() -> tuple[bytes, list[float], list[float]]:
        sent: list[float] = []
        got: list[float] = []
        REQUEST_SENT_AT.set(sent)
        FIRST_BYTE_AT.set(got)
        async with make_http_client(transport="aiohttp") as client:
            url = server.base_url("openai") + "/chat/completions"
            body = chat_body("tr-stream", True)
            async with client.stream(url, body=body, headers=headers()) as r:
                assert r.status_code == 200
                data = b"".join([c async for c in r.aiter_bytes()])
        return data, sent, got

    data, sent, got = asyncio.run(go())
    text = "".join(
        json.loads(line[6:])["choices"][0]["delta"].get("content", "")
        for line in data.decode().splitlines()
        if line.startswith("data: {") and '"choices": [{' in line.replace('":[{', '": [{')
    )
    assert text.replace(" ", "") == "alphabetagammadelta"
    assert len(sent) == 1 and got  # the request was stamped once, each read after it
    assert all(t >= sent[0] for t in got)


def test_an_error_status_comes_back_with_its_headers(server: ProviderServer) -> None:
    server.script("tr-limited", fail_times=-1, status=429, retry_after=7)

    async def go() -> tuple[int, str]:
        async with make_http_client(transport="aiohttp") as client:
            url = server.base_url("openai") + "/chat/completions"
            body = chat_body("tr-limited", False)
            async with client.stream(url, body=body, headers=headers()) as r:
                await r.aread()
                return r.status_code, r.headers["retry-after"]

    assert asyncio.run(go()) == (429, "7")


def test_a_refused_connection_is_a_connect_error_naming_its_cause(transport: Transport) -> None:
    with socket.socket() as s:  # a port that was free a moment ago and has no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def go() -> None:
        async with make_http_client(transport=transport) as client:
            await client.get(f"http://127.0.0.1:{port}/v1/models")

    with pytest.raises(WireConnectError) as caught:
        asyncio.run(go())
    assert connection_cause(caught.value) == "connection refused"


def test_a_server_that_never_answers_is_a_timeout(
    server: ProviderServer, transport: Transport
) -> None:
    model = f"tr-hang-{transport}"
    server.script(model, fault="hang")

    async def go() -> None:
        timeouts = Timeouts(read=0.3, first_byte=None, connect=2.0)
        async with make_http_client(transport=transport, timeouts=timeouts) as client:
            url = server.base_url("openai") + "/chat/completions"
            async with client.stream(url, body=chat_body(model, False), headers=headers()):
                pass

    with pytest.raises(WireTimeout):
        asyncio.run(go())


def test_an_unusable_url_is_a_bad_url_error() -> None:
    async def go(transport: Transport) -> None:
        async with make_http_client(transport=transport) as client:
            await client.get("ftp://127.0.0.1/v1/models")

    for transport in ("aiohttp", "httpx"):
        with pytest.raises(WireBadURL):
            asyncio.run(go(transport))


def test_proxies_are_looked_for_only_when_the_environment_names_one() -> None:
    assert not proxies_configured({"PATH": "/bin", "HTTPS_PROXY": ""})
    assert proxies_configured({"https_proxy": "http://127.0.0.1:3128"})
    assert proxies_configured({"ALL_PROXY": "socks5://127.0.0.1:1080"})
