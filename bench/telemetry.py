"""Production telemetry in the registry: OTLP ingest throughput and the cost of the
stats and "what served this?" queries over a large span table. Prints figures; never
asserts on time.

Part 1: ``registry serve`` in a subprocess (``--workers N``, SQLite file or ``--db``
PostgreSQL URL); ``--clients`` threads post protobuf ExportTraceServiceRequests of
``--batch`` GenAI spans (built with opentelemetry-proto, as an exporter does) for
``--seconds``; half the spans carry prompt attributes, half only a caller key that
the app resolved first (linked by the resolution record). Prints spans/s.

Part 2: in process, ``--spans`` spans are ingested (30 days, 3 versions, 3 apps,
1,000 caller keys) through the service, then the stats query for 30 days and the
trace lookups (by trace id; by app, key and time) are timed (median of 20).

    .venv/bin/python bench/telemetry.py [--seconds 10] [--clients 4] [--batch 200]
        [--workers 1] [--db URL] [--spans 200000] [--skip-ingest] [--skip-queries]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from workbench.core.models import Message, PromptContent, PromptVersion
from workbench.registry.schemas import LabelMove, LabelTarget, ReviewIn, UserRole, VersionPush
from workbench.registry.server.auth import Actor
from workbench.registry.server.config import RegistrySettings
from workbench.registry.server.db import open_database
from workbench.registry.server.otlp import decode
from workbench.registry.server.service import RegistryService

PROMPT = "bench/reply"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed(service: RegistryService) -> list[PromptVersion]:
    """Three approved versions, v1 published; users for the bench."""
    users: dict[str, UserRole] = {"alice": "author", "bob": "reviewer", "carol": "publisher"}
    for name, role in users.items():
        service.add_user(name, role)
    out = []
    for i in range(3):
        content = PromptContent(messages=(Message(role="user", template=f"v{i} {{{{ q }}}}"),))
        v = PromptVersion(prompt=PROMPT, content=content, content_hash=content.content_hash())
        pushed = service.push_version(
            Actor("alice", "author"),
            VersionPush(
                id=v.id, prompt=PROMPT, content=content, content_hash=v.content_hash,
                created_at=v.created_at,
            ),
        ).version  # fmt: skip
        service.review(
            Actor("bob", "reviewer"),
            pushed.id,
            ReviewIn(decision="approve", content_hash=pushed.content_hash),
        )
        out.append(pushed)
    service.move_label(
        Actor("carol", "publisher"),
        PROMPT,
        "production",
        LabelMove(expected=None, target=LabelTarget(version_id=out[0].id), reason="release"),
    )
    return out


def _request(spans: int, rng: random.Random, base: datetime, spread_s: float) -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    req = ExportTraceServiceRequest()
    scope = req.resource_spans.add().scope_spans.add()

    def kv(key: str, value: object) -> KeyValue:
        if isinstance(value, str):
            return KeyValue(key=key, value=AnyValue(string_value=value))
        if isinstance(value, float):
            return KeyValue(key=key, value=AnyValue(double_value=value))
        return KeyValue(key=key, value=AnyValue(int_value=int(value)))  # type: ignore[call-overload]

    for _ in range(spans):
        span = scope.spans.add()
        span.trace_id = rng.randbytes(16)
        span.span_id = rng.randbytes(8)
        span.name = "chat gpt-4o-mini"
        start = base + timedelta(seconds=rng.random() * spread_s)
        start_ns = int(start.timestamp() * 1e9)
        span.start_time_unix_nano = start_ns
        span.end_time_unix_nano = start_ns + int(rng.lognormvariate(6.5, 0.5) * 1e6)
        attrs = [
            kv("gen_ai.operation.name", "chat"),
            kv("gen_ai.provider.name", "openai"),
            kv("gen_ai.request.model", "gpt-4o-mini"),
            kv("gen_ai.usage.input_tokens", rng.randint(50, 900)),
            kv("gen_ai.usage.output_tokens", rng.randint(10, 300)),
            kv("workbench.cost_usd", rng.random() * 0.002),
            kv("workbench.ttft_ms", rng.lognormvariate(5.5, 0.4)),
            kv("workbench.caller_key", f"user-{rng.randrange(1000)}"),
        ]
        if rng.random() < 0.5:
            attrs += [
                kv("langfuse.observation.prompt.name", PROMPT),
                kv("langfuse.observation.prompt.version", rng.randint(1, 3)),
            ]
        if rng.random() < 0.02:
            attrs.append(kv("error.type", "timeout"))
        span.attributes.extend(attrs)
    data: bytes = req.SerializeToString()
    return data


def ingest_over_http(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="wb-telemetry-bench-"))
    url = args.db or f"sqlite:///{tmp / 'registry.sqlite3'}"
    db = open_database(url)
    service = RegistryService(db, RegistrySettings(db_url=url))
    _seed(service)
    token = service.add_user("shop", "app")
    db.dispose()
    port = _free_port()
    code = (
        "import sys\n"
        "from workbench.registry.server.config import RegistrySettings\n"
        "from workbench.registry.server.serving import serve\n"
        "serve(RegistrySettings(db_url=sys.argv[1], max_body_bytes=4_000_000), "
        "port=int(sys.argv[2]), workers=int(sys.argv[3]))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, url, str(port), str(args.workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("the registry did not start")
            time.sleep(0.1)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers) as client:  # resolutions on record
            for k in range(1000):
                client.get(f"/api/v1/prompts/{PROMPT}/resolve", params={"key": f"user-{k}"})
        rng = random.Random(7)
        now = datetime.now(UTC)
        count = max(8, int(args.seconds * args.max_rate / args.batch))
        bodies = [_request(args.batch, rng, now - timedelta(hours=1), 3600) for _ in range(count)]
        next_body = [0]
        sent = [0] * args.clients
        latencies: list[float] = []
        errors = [0]
        stop = time.monotonic() + args.seconds
        lock = threading.Lock()

        def client_loop(index: int) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                while time.monotonic() < stop:
                    with lock:
                        if next_body[0] >= len(bodies):
                            return  # every body sent once: no duplicates measured
                        body = bodies[next_body[0]]
                        next_body[0] += 1
                    t0 = time.perf_counter()
                    r = http.post(
                        "/v1/traces", content=body,
                        headers={"Content-Type": "application/x-protobuf"},
                    )  # fmt: skip
                    elapsed = time.perf_counter() - t0
                    with lock:
                        latencies.append(elapsed)
                        if r.status_code == 200:
                            sent[index] += args.batch
                        else:
                            errors[0] += 1

        started = time.perf_counter()
        threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        total = sum(sent)
        print(
            f"ingest over HTTP ({'PostgreSQL' if args.db else 'SQLite'}, {args.workers} "
            f"worker(s), {args.clients} clients, {args.batch} spans/request): "
            f"{total:,} spans in {wall:.1f} s = {total / wall:,.0f} spans/s; request p50 "
            f"{statistics.median(latencies) * 1000:.0f} ms; errors {errors[0]}"
        )
        if next_body[0] >= len(bodies):
            print("  (all prepared bodies sent before the time was up: raise --max-rate)")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def queries(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="wb-telemetry-q-"))
    url = f"sqlite:///{tmp / 'registry.sqlite3'}"
    db = open_database(url)
    service = RegistryService(db, RegistrySettings(db_url=url, span_retention_days=0))
    _seed(service)
    telemetry = service.telemetry
    rng = random.Random(11)
    start = datetime.now(UTC) - timedelta(days=30)
    batch = 1000
    t0 = time.perf_counter()
    done = 0
    a_trace = ""
    while done < args.spans:
        body = _request(batch, rng, start, 30 * 86400)
        decoded = decode(body, "application/x-protobuf")
        if not a_trace:
            a_trace = decoded.spans[0].trace_id
        telemetry.ingest(f"app-{done // batch % 3}", decoded)
        done += batch
    wall = time.perf_counter() - t0
    print(
        f"in-process ingest (SQLite, batches of {batch}): {done:,} spans in {wall:.1f} s "
        f"= {done / wall:,.0f} spans/s (decode + link + insert + rollups)"
    )

    def timed(fn: object, rounds: int = 20) -> tuple[float, float]:
        times = []
        for _ in range(rounds):
            t = time.perf_counter()
            fn()  # type: ignore[operator]
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1000, max(times) * 1000

    now = datetime.now(UTC)
    med, worst = timed(lambda: telemetry.stats(PROMPT, now - timedelta(days=30), now))
    print(
        f"stats, 30 days over {done:,} spans (from the rollups): median {med:.1f} ms, "
        f"max {worst:.1f} ms"
    )
    med, worst = timed(lambda: telemetry.served(trace_id=a_trace))
    print(f"served by trace id: median {med:.1f} ms, max {worst:.1f} ms")
    at = start + timedelta(days=15)
    med, worst = timed(lambda: _served_or_none(telemetry, at))
    print(f"served by app + key + time: median {med:.1f} ms, max {worst:.1f} ms")
    size = os.path.getsize(tmp / "registry.sqlite3")
    print(f"database: {size / 1e6:.0f} MB")
    db.dispose()


def _served_or_none(telemetry: object, at: datetime) -> None:
    from workbench.core.errors import NotFoundError

    with contextlib.suppress(NotFoundError):
        telemetry.served(app="app-1", key="user-7", at=at)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument(
        "--max-rate", type=float, default=12_000, help="spans/s the prepared bodies cover"
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--db", default=None, help="a PostgreSQL URL (default: a SQLite file)")
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-queries", action="store_true")
    args = parser.parse_args()
    if not args.skip_ingest:
        ingest_over_http(args)
    if not args.skip_queries:
        queries(args)


if __name__ == "__main__":
    main()
