"""Load on the team registry over loopback, and the change feed's cost at 200,000 versions.

Part 1: ``workbench registry serve`` in a subprocess on a fresh SQLite file (with
``--workers N``, N uvicorn processes on that one file); N concurrent asyncio clients
(default 50) for a bounded time (default 60 s) each loop: push a new version of their
own prompt (1 in 5) or resolve the shared published prompt with their own caller key.
The clients never pause (a closed loop), so this finds the saturation point: by
Little's law mean latency = clients / throughput. Prints throughput, p50/p99 latency
per operation and errors, and where the CPU went: the server's processes, the client
process, and the rest of the machine (other work on a shared box).

The clients are aiohttp sessions in this process, not the server's: they share the
machine's cores with the server, so they must be cheap. Measured on a 2-core box,
an httpx AsyncClient cost ~1.5 ms CPU per request at this concurrency (more than
the server), aiohttp ~0.1 ms; with httpx the benchmark mostly measured itself.

Part 2: a second SQLite registry seeded with bulk inserts to 200,000 versions, then
one new version pushed; measures ``changes(since=cursor)`` for that one change, both
as server time (the service call) and over HTTP.

    .venv/bin/python bench/registry_load.py [--seconds 60] [--clients 50] [--workers 1]
        [--versions 200000] [--skip-load] [--skip-feed]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx
import sqlalchemy as sa

from workbench.core.models import Message, PromptContent, canonical_json
from workbench.registry.schemas import LabelTarget
from workbench.registry.server.auth import Actor
from workbench.registry.server.config import RegistrySettings
from workbench.registry.server.db import open_database
from workbench.registry.server.service import RegistryService
from workbench.registry.server.tables import ChangeRow, HeadRow, PromptRow, VersionRow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _content(text: str) -> PromptContent:
    return PromptContent(messages=(Message(role="user", template=text),))


def _push_body(prompt: str, text: str, parent: str | None) -> dict[str, object]:
    content = _content(text)
    return {
        "id": str(uuid.uuid4()),
        "prompt": prompt,
        "content": content.model_dump(mode="json"),
        "content_hash": content.content_hash(),
        "created_at": datetime.now(UTC).isoformat(),
        "parent_ids": [parent] if parent else [],
    }


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"push": [], "resolve": []})
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _start_server(db_url: str, port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    if os.environ.get("BENCH_SERVE_CLI"):  # the CLI as it is (no --workers yet)
        cmd = [sys.executable, "-m", "workbench", "registry", "serve", "--db", db_url]
        cmd += ["--port", str(port)]
    else:  # serving.serve(), which `workbench registry serve` should call
        code = (
            "import sys\n"
            "from workbench.registry.server.config import RegistrySettings\n"
            "from workbench.registry.server.serving import serve\n"
            "serve(RegistrySettings(db_url=sys.argv[1]), port=int(sys.argv[2]), "
            "workers=int(sys.argv[3]))\n"
        )
        cmd = [sys.executable, "-c", code, db_url, str(port), str(workers)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its live children (uvicorn workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
        for p in pids:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    except OSError:
        return float("nan")
    return total


def _machine_busy_seconds() -> float:
    """CPU-seconds all cores spent busy so far (everything but idle and iowait)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return float("nan")
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.05
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(delay)  # a benchmark's start-up poll, not a test
        delay = min(delay * 2, 0.5)
    raise SystemExit("server did not become ready")


async def _client(
    n: int, url: str, token: str, until: float, stats: Stats, prompt_ids: dict[int, str | None]
) -> None:
    rng = random.Random(n)
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(url, headers=headers, timeout=timeout) as http:
        i = 0
        while time.monotonic() < until:
            i += 1
            if rng.random() < 0.2:
                body = _push_body(f"load/c{n}", f"client {n} text {i}", prompt_ids.get(n))
                t = time.perf_counter()
                try:
                    async with http.post("/api/v1/versions", json=body) as r:
                        await r.read()
                except (aiohttp.ClientError, TimeoutError):
                    stats.error("push transport")
                    continue
                stats.latencies["push"].append(time.perf_counter() - t)
                if r.status == 201:
                    prompt_ids[n] = str(body["id"])
                else:
                    stats.error(f"push {r.status}")
            else:
                params = {"label": "production", "key": f"user-{rng.randrange(10_000)}"}
                t = time.perf_counter()
                try:
                    async with http.get("/api/v1/prompts/load/shared/resolve", params=params) as r:
                        await r.read()
                except (aiohttp.ClientError, TimeoutError):
                    stats.error("resolve transport")
                    continue
                stats.latencies["resolve"].append(time.perf_counter() - t)
                if r.status != 200:
                    stats.error(f"resolve {r.status}")


def load_phase(seconds: float, clients: int, workers: int, workdir: Path) -> None:
    db_url = f"sqlite:///{workdir / 'load.sqlite3'}"
    db = open_database(db_url)
    service = RegistryService(db, RegistrySettings(db_url=db_url))
    token = service.add_user("loader", "publisher")
    service.add_user("checker", "reviewer")
    publisher = Actor("loader", "publisher")
    from workbench.registry.schemas import LabelMove, ReviewIn, VersionPush

    pushed = service.push_version(
        publisher, VersionPush.model_validate(_push_body("load/shared", "Hello {{ name }}", None))
    ).version
    service.review(
        Actor("checker", "reviewer"),
        pushed.id,
        ReviewIn(decision="approve", content_hash=pushed.content_hash),
    )
    service.move_label(
        publisher,
        "load/shared",
        "production",
        LabelMove(expected=None, target=LabelTarget(version_id=pushed.id), reason="release"),
    )
    db.dispose()

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start_server(db_url, port, workers)
    try:
        _wait_ready(url, proc)
        stats = Stats()
        prompt_ids: dict[int, str | None] = {}
        server_cpu = _cpu_seconds(proc.pid)
        client_cpu = time.process_time()
        machine = _machine_busy_seconds()
        started = time.monotonic()

        async def run_all() -> None:
            until = time.monotonic() + seconds
            await asyncio.gather(
                *(_client(n, url, token, until, stats, prompt_ids) for n in range(clients))
            )

        asyncio.run(run_all())
        elapsed = time.monotonic() - started
        server_cpu = _cpu_seconds(proc.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
        machine = _machine_busy_seconds() - machine
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    total = sum(len(v) for v in stats.latencies.values())
    print(
        f"== load: {clients} concurrent clients (closed loop), {seconds:.0f} s, SQLite, "
        f"{workers} server worker(s), loopback, {os.cpu_count()} cores =="
    )
    print(f"requests: {total}  throughput: {total / elapsed:.0f} req/s")
    for op, values in stats.latencies.items():
        print(
            f"  {op:8s} n={len(values):6d}  p50={_pct(values, 0.50) * 1000:7.1f} ms  "
            f"p99={_pct(values, 0.99) * 1000:7.1f} ms  "
            f"mean={statistics.fmean(values) * 1000 if values else float('nan'):7.1f} ms"
        )
    print(
        f"errors: {sum(stats.errors.values())} {json.dumps(stats.errors) if stats.errors else ''}"
    )
    other = machine - server_cpu - client_cpu
    print(
        f"cpu (cores busy on average): server {server_cpu / elapsed:.2f}  "
        f"clients {client_cpu / elapsed:.2f}  rest of machine {other / elapsed:.2f}  "
        f"(server {server_cpu / max(total, 1) * 1000:.2f} ms CPU per request)"
    )


def _seed(db_url: str, versions: int, per_prompt: int = 100) -> None:
    """Bulk-insert ``versions`` versions (and their feed entries) in a few big transactions."""
    db = open_database(db_url)
    content = _content("seeded {{ x }}")
    body = canonical_json(content.canonical()).decode()
    digest = content.content_hash()
    now = datetime.now(UTC)
    prompts = (versions + per_prompt - 1) // per_prompt
    with db.write_engine.begin() as conn:
        conn.execute(
            sa.insert(PromptRow),
            [
                {"id": p + 1, "name": f"seed/p{p}", "created_at": now, "version_count": per_prompt}
                for p in range(prompts)
            ],
        )
    batch = 20_000
    seq = 0
    for start in range(0, versions, batch):
        rows, changes = [], []
        for i in range(start, min(start + batch, versions)):
            vid = uuid.uuid4()
            p = i // per_prompt
            rows.append(
                {
                    "id": vid,
                    "prompt_id": p + 1,
                    "number": i % per_prompt + 1,
                    "content": body,
                    "content_hash": digest,
                    "message": "",
                    "author": "seed",
                    "created_at": now,
                    "pushed_at": now,
                    "parent_ids": "[]",
                }
            )
            seq += 1
            changes.append(
                {"seq": seq, "kind": "version", "prompt": f"seed/p{p}", "ref": str(vid), "at": now}
            )
        with db.write_engine.begin() as conn:
            conn.execute(sa.insert(VersionRow), rows)
            conn.execute(sa.insert(ChangeRow), changes)
    with db.write_engine.begin() as conn:
        conn.execute(sa.update(HeadRow).where(HeadRow.id == 1).values(change_seq=seq))
    db.dispose()


def feed_phase(versions: int, workdir: Path) -> None:
    db_url = f"sqlite:///{workdir / 'feed.sqlite3'}"
    t = time.perf_counter()
    _seed(db_url, versions)
    seed_s = time.perf_counter() - t
    db = open_database(db_url)
    service = RegistryService(db, RegistrySettings(db_url=db_url))
    token = service.add_user("reader", "author")
    cursor = service.changes(0, 1).next_cursor
    while True:  # walk to the end as a synced client would have
        page = service.changes(cursor, 1000)
        cursor = page.next_cursor
        if not page.has_more:
            break
    from workbench.registry.schemas import VersionPush

    service.push_version(
        Actor("reader", "author"),
        VersionPush.model_validate(_push_body("seed/p0", "one new change", None)),
    )
    server_ms = []
    for _ in range(50):
        t = time.perf_counter()
        page = service.changes(cursor, 500)
        server_ms.append((time.perf_counter() - t) * 1000)
        assert len(page.changes) == 1
    db.dispose()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start_server(db_url, port)
    try:
        _wait_ready(url, proc)
        http_ms = []
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
            for _ in range(50):
                t = time.perf_counter()
                r = http.get("/api/v1/changes", params={"since": cursor})
                http_ms.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200 and len(r.json()["changes"]) == 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"== change feed: {versions} stored versions, 1 new change (SQLite) ==")
    print(f"seeding: {seed_s:.1f} s")
    print(
        f"server time (service.changes): p50={statistics.median(server_ms):.2f} ms  "
        f"max={max(server_ms):.2f} ms"
    )
    print(
        f"over HTTP (loopback):          p50={statistics.median(http_ms):.2f} ms  "
        f"max={max(http_ms):.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--versions", type=int, default=200_000)
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-feed", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as tmp:
        workdir = Path(tmp)
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        if not args.skip_load:
            load_phase(args.seconds, args.clients, args.workers, workdir)
        if not args.skip_feed:
            feed_phase(args.versions, workdir)


if __name__ == "__main__":
    main()
