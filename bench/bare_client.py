"""The floor: a bare aiohttp client making streamed chat calls, as a whole process.

``bench/matrix.py`` times this script from process start to exit beside
``workbench compare`` doing the same calls against the same local provider server.
It imports only aiohttp and the standard library, parses the SSE stream as the
engine must (JSON per chunk), and prints one JSON line on stdout: the calls made,
the characters received and the median time to first token in ms, measured on the
engine's clock (from the request body written to the first content byte read).

    python bench/bare_client.py URL CALLS CONCURRENCY KEY
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from types import SimpleNamespace

import aiohttp


async def main(url: str, calls: int, concurrency: int, key: str) -> dict[str, float]:
    gate = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    ttfts: list[float] = []

    async def on_sent(_s: object, ctx: SimpleNamespace, _p: object) -> None:
        ctx.trace_request_ctx["sent"] = time.perf_counter()

    trace = aiohttp.TraceConfig()
    trace.on_request_chunk_sent.append(on_sent)
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector, trace_configs=[trace]) as session:

        async def call(i: int) -> int:
            payload = {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": f"case {i}: say something useful"}],
                "stream": True,
                "stream_options": {"include_usage": True},
            }
            size = 0
            first: float | None = None
            buffer = b""
            box: dict[str, float] = {}
            async with (
                gate,
                session.post(
                    f"{url}/v1/chat/completions",
                    json=payload,
                    headers=headers,
                    trace_request_ctx=box,
                ) as response,
            ):
                async for chunk in response.content.iter_any():
                    if first is None:
                        first = time.perf_counter()
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        if line.startswith(b"data: ") and line != b"data: [DONE]":
                            for choice in json.loads(line[6:])["choices"]:
                                size += len(choice["delta"].get("content") or "")
            if first is not None:
                ttfts.append(first - box["sent"])
            return size

        sizes = await asyncio.gather(*(call(i) for i in range(calls)))
    return {
        "calls": calls,
        "chars": sum(sizes),
        "ttft_ms": statistics.median(ttfts) * 1000 if ttfts else float("nan"),
    }


if __name__ == "__main__":
    url, n, conc, key = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    print(json.dumps(asyncio.run(main(url, n, conc, key))))
