"""Which HTTP transport should provider calls use? Measure, don't guess.

Runs the same streamed chat calls (OpenAI wire format, 200 ms time to first
token, 8 chunks) against the local provider server in a separate process,
through our OpenAIClient over each httpx set-up, and through a bare aiohttp
client doing the same SSE parsing, and prints wall time, CPU time of this
process, and CPU per call beside the ideal floor ceil(calls / concurrency) x TTFT.

    .venv/bin/python bench/http_transports.py            # 300 @ 16 and 1200 @ 64
    .venv/bin/python bench/http_transports.py --quick    # 300 @ 16 only

Figures on the 2-core project machine, Dec 7, one run each, the same session (the
"httpx + aiohttp transport" row is the code before that day: httpx's API over our
aiohttp transport), wall seconds (x ideal 3.80 s) and CPU of this process per call:

    transport                  300 @ 16       1200 @ 64      CPU ms/call
    httpx's own transport      4.36 (1.15)    5.32 (1.40)    2.2-2.4
    httpx + aiohttp transport  4.01 (1.05)    4.19 (1.10)    1.08-1.24
    aiohttp directly (chosen)  3.95 (1.04)    4.03 (1.06)    0.52-0.54
    bare aiohttp               3.92 (1.03)    4.04 (1.06)    0.44-0.50

Ideal is 3.80 s for both. httpx in front of aiohttp cost about as much CPU per call as
aiohttp itself (building httpx's request, response and stream objects); the provider
clients now call aiohttp directly behind ``ProviderHttp`` and stay within 1.2x the bare
client's CPU, so ``make_http_client`` uses it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.providerserver import DEFAULT_KEY  # noqa: E402
from workbench.providers.base import ChatMessage, ChatRequest, TextDelta  # noqa: E402
from workbench.providers.http import ProviderHttp, make_http_client  # noqa: E402
from workbench.providers.openai import OpenAIClient  # noqa: E402
from workbench.providers.sse import SSEDecoder  # noqa: E402

TTFT = 0.2
CHUNKS = 8


def start_server() -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tests.providerserver"]
    command += ["--ttft", str(TTFT), "--chunks", str(CHUNKS)]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise SystemExit("the provider server did not start")
    return proc, url


def request(i: int) -> ChatRequest:
    return ChatRequest(
        model="bench-model",
        messages=(ChatMessage(role="user", content=f"case {i}: say something useful please"),),
    )


Call = Callable[[int], Awaitable[int]]


async def run_calls(call: Call, calls: int, concurrency: int) -> tuple[float, float, int]:
    """(wall s, CPU s, characters received) for ``calls`` calls, ``concurrency`` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> int:
        async with gate:
            return await call(i)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    sizes = await asyncio.gather(*(one(i) for i in range(calls)))
    return time.perf_counter() - wall0, time.process_time() - cpu0, sum(sizes)


async def via_client(
    http: ProviderHttp, url: str, calls: int, conc: int
) -> tuple[float, float, int]:
    client = OpenAIClient(name="bench", base_url=f"{url}/v1", api_key=DEFAULT_KEY, http=http)

    async def call(i: int) -> int:
        size = 0
        async for event in client.stream_chat(request(i)):
            if isinstance(event, TextDelta):
                size += len(event.text)
        return size

    await run_calls(call, conc, conc)  # warm the pool
    result = await run_calls(call, calls, conc)
    await http.aclose()
    return result


async def bare_aiohttp(url: str, calls: int, conc: int) -> tuple[float, float, int]:
    connector = aiohttp.TCPConnector(limit=256)
    headers = {"Authorization": f"Bearer {DEFAULT_KEY}"}
    async with aiohttp.ClientSession(connector=connector) as session:

        async def call(i: int) -> int:
            body = request(i)
            payload = {
                "model": body.model,
                "messages": [m.model_dump() for m in body.messages],
                "stream": True,
                "stream_options": {"include_usage": True},
            }
            size = 0
            decoder = SSEDecoder()
            async with session.post(
                f"{url}/v1/chat/completions", json=payload, headers=headers
            ) as response:
                async for chunk in response.content.iter_any():
                    for event in decoder.feed(chunk):
                        if event.data != "[DONE]":
                            for choice in json.loads(event.data)["choices"]:
                                size += len(choice["delta"].get("content") or "")
            return size

        await run_calls(call, conc, conc)
        return await run_calls(call, calls, conc)


Run = Callable[[str, int, int], Coroutine[Any, Any, tuple[float, float, int]]]
CONTENDERS: dict[str, Run] = {
    "httpx's own transport": lambda url, n, c: via_client(
        make_http_client(transport="httpx"), url, n, c
    ),
    "aiohttp directly (chosen)": lambda url, n, c: via_client(
        make_http_client(transport="aiohttp"), url, n, c
    ),
    "bare aiohttp": bare_aiohttp,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="only 300 calls at concurrency 16")
    args = parser.parse_args()
    shapes = [(300, 16)] if args.quick else [(300, 16), (1200, 64)]
    proc, url = start_server()
    try:
        print(f"server {url} (own process), TTFT {TTFT * 1000:.0f} ms, {CHUNKS} chunks a reply")
        print(
            f"{'calls@conc':>11} {'transport':<27} {'wall s':>7} {'ideal s':>7} {'x ideal':>7} "
            f"{'CPU s':>6} {'CPU ms/call':>11}"
        )
        for calls, conc in shapes:
            ideal = math.ceil(calls / conc) * TTFT
            for name, run in CONTENDERS.items():
                wall, cpu, _ = asyncio.run(run(url, calls, conc))
                print(
                    f"{f'{calls}@{conc}':>11} {name:<27} {wall:7.2f} {ideal:7.2f} "
                    f"{wall / ideal:7.2f} {cpu:6.2f} {cpu / calls * 1000:11.2f}",
                    flush=True,
                )
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)


if __name__ == "__main__":
    main()
