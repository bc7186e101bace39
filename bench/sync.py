"""Sync against a registry holding 200,000 versions: the first full pull and one change.

A SQLite registry is seeded with bulk inserts (``registry_load._seed``, the same
seeding as the change-feed benchmark), then served by ``workbench registry serve`` in
a subprocess on 127.0.0.1. The client runs in a process of its own, so its peak RSS
is the client's alone:

(a) the first sync of an empty vault pulls every version: wall time, versions/s, peak RSS;
(b) then, repeatedly, another user pushes one new version and the client syncs:
    client time per incremental sync (target: <= 100 ms), and a sync with nothing new.

Prints figures; asserts nothing.

    .venv/bin/python bench/sync.py [--versions 200000] [--rounds 15] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The same seeding as the change-feed benchmark.
from bench.registry_load import _content, _free_port, _seed, _start_server, _wait_ready
from workbench.core.models import PromptVersion
from workbench.registry.client import RegistryClient
from workbench.registry.server.config import RegistrySettings
from workbench.registry.server.db import open_database
from workbench.registry.server.service import RegistryService
from workbench.registry.sync import Syncer
from workbench.vault import Vault


def _profile_text(profiler: cProfile.Profile, limit: int = 25) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(limit)
    return out.getvalue()


def client_main(
    url: str, reader: str, writer: str, vault_path: Path, rounds: int, prof: bool
) -> None:
    """The client process: full pull, then incremental syncs; prints one JSON line."""
    result: dict[str, object] = {}
    vault = Vault.open(vault_path, create=True, actor="reader")
    with RegistryClient(url, reader) as client, RegistryClient(url, writer) as other:
        syncer = Syncer(vault, client)
        profiler = cProfile.Profile() if prof else None
        t = time.perf_counter()
        if profiler:
            profiler.enable()
        report = syncer.sync()
        if profiler:
            profiler.disable()
            result["full_profile"] = _profile_text(profiler)
        result["full_s"] = time.perf_counter() - t
        result["full_versions"] = report.new_versions
        result["full_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result["vault_mb"] = vault_path.stat().st_size / 1e6

        parent = None
        incremental, idle = [], []
        profiler = cProfile.Profile() if prof else None
        for i in range(rounds):
            body = _content(f"one new change {i} {uuid.uuid4()}")
            v = PromptVersion(
                prompt="bench/new",
                content=body,
                content_hash=body.content_hash(),
                parent_ids=(parent,) if parent else (),
            )
            other.push_version(v)  # another user's change: not the client's time
            parent = v.id
            t = time.perf_counter()
            if profiler and i == rounds - 1:
                profiler.enable()
            report = syncer.sync()
            if profiler and i == rounds - 1:
                profiler.disable()
            incremental.append((time.perf_counter() - t) * 1000)
            assert report.new_versions == 1, report
            t = time.perf_counter()
            syncer.sync()
            idle.append((time.perf_counter() - t) * 1000)
        if profiler:
            result["incremental_profile"] = _profile_text(profiler)
        result["incremental_ms"] = incremental
        result["idle_ms"] = idle
        result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    vault.close()
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--profile", action="store_true", help="print where the client's time goes")
    parser.add_argument("--client", nargs=4, metavar=("URL", "READER", "WRITER", "VAULT"))
    args = parser.parse_args()
    if args.client:
        url, reader, writer, vault = args.client
        client_main(url, reader, writer, Path(vault), args.rounds, args.profile)
        return

    with tempfile.TemporaryDirectory(prefix="sync-bench-") as tmp:
        workdir = Path(tmp)
        db_url = f"sqlite:///{workdir / 'registry.sqlite3'}"
        t = time.perf_counter()
        _seed(db_url, args.versions)
        seed_s = time.perf_counter() - t
        db = open_database(db_url)
        service = RegistryService(db, RegistrySettings(db_url=db_url))
        reader = service.add_user("reader", "author")
        writer = service.add_user("writer", "author")
        db.dispose()

        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        server = _start_server(db_url, port)
        try:
            _wait_ready(url, server)
            cmd = [sys.executable, __file__, "--rounds", str(args.rounds)]
            cmd += ["--profile"] if args.profile else []
            cmd += ["--client", url, reader, writer, str(workdir / "vault.sqlite3")]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        finally:
            server.terminate()
            server.wait(timeout=30)
        if done.returncode != 0:
            raise SystemExit(f"the client failed:\n{done.stderr}")
        r = json.loads(done.stdout.strip().splitlines()[-1])

    full_s = float(r["full_s"])
    inc = r["incremental_ms"]
    idle = r["idle_ms"]
    print(f"== sync against a registry of {args.versions:,} versions (SQLite, loopback) ==")
    print(f"seeding the registry: {seed_s:.1f} s")
    print(
        f"(a) first full pull: {r['full_versions']:,} versions in {full_s:.1f} s "
        f"({r['full_versions'] / full_s:,.0f} versions/s); client peak RSS "
        f"{r['full_rss_mb']:.0f} MB; vault file {r['vault_mb']:.0f} MB"
    )
    print(
        f"(b) incremental sync of one new version, client time over {len(inc)} rounds: "
        f"median {statistics.median(inc):.1f} ms, min {min(inc):.1f}, max {max(inc):.1f} "
        f"(target <= 100 ms)"
    )
    print(f"    a sync with nothing new: median {statistics.median(idle):.1f} ms")
    print(f"    client peak RSS overall: {r['rss_mb']:.0f} MB")
    if args.profile:
        print("\n-- profile: first full pull --\n" + str(r["full_profile"]))
        print("-- profile: one incremental sync --\n" + str(r["incremental_profile"]))


if __name__ == "__main__":
    main()
