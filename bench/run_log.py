"""The run log at scale: ``workbench costs --by ...`` and ``workbench log`` over a vault
holding ``--cells`` model calls (default 1,000,000), timed as a person runs them
(whole process, from a shell) and in process (the query alone). Prints figures,
asserts nothing.

The whole-process figures are mostly the CLI's start, so each round runs every
command twice, interleaved: on the big vault and on a baseline vault of 3,000 cells
built the same way (and ``workbench --version``, the bare start). The ratio big /
baseline is what the size of the log costs a person; it holds on a loaded machine
where the milliseconds do not.

The vault is built once, with 40 prompts x 3 versions, 6 models, 30 days of calls,
10% unpriced and 3% failed, stored through ``RunStore.add_cells`` in runs of 1,000
cells (as the engine stores them). ``--keep PATH`` keeps it for another round.

    .venv/bin/python bench/run_log.py [--cells 1000000] [--rounds 5] [--keep PATH]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from workbench.core.models import Message, PromptContent
from workbench.core.runs import CellKey, CellResult, ModelRef, Run, RunSpec, TestCase
from workbench.vault import Vault
from workbench.vault.runs import RunStore
from workbench.vault.spending import COST_GROUPS

MODELS = tuple(
    ModelRef.parse(m)
    for m in (
        "openai:gpt-4o-mini", "openai:gpt-4o", "anthropic:claude-3-5-haiku-latest",
        "anthropic:claude-sonnet-4", "gemini:gemini-2.0-flash", "local:llama3",
    )
)  # fmt: skip
RUN_SIZE = 1_000


def build(path: Path, cells: int) -> None:
    rng = random.Random(7)
    started = time.monotonic()
    with Vault.open(path, create=True, actor="bench") as vault:
        versions = []
        for p in range(40):
            for v in range(3):
                content = PromptContent(
                    messages=(Message(role="user", template=f"prompt {p} v{v}: {{{{ q }}}}"),)
                )
                versions.append(vault.commit(f"team{p % 5}/prompt{p}", content, f"v{v}"))
        store = RunStore(vault)
        now = datetime.now(UTC)
        for first in range(0, cells, RUN_SIZE):
            version = rng.choice(versions)
            spec = RunSpec(
                prompt=version.prompt, version_ids=(version.id,), models=MODELS,
                cases=(TestCase(name="c", values={"q": "?"}),),
            )  # fmt: skip
            run = Run(spec=spec)
            store.start(run)
            day = now - timedelta(days=rng.uniform(0, 30))
            batch = []
            for i in range(min(RUN_SIZE, cells - first)):
                model = MODELS[i % len(MODELS)]
                failed = rng.random() < 0.03
                tin, tout = rng.randint(50, 2_000), rng.randint(10, 800)
                batch.append(
                    CellResult(
                        key=CellKey(version_id=version.id, model=model, case_index=0, repeat=i),
                        output="" if failed else "an answer " * 5,
                        input_tokens=None if failed else tin,
                        output_tokens=None if failed else tout,
                        cost_usd=None if failed or rng.random() < 0.1 else tin * 1e-7 + tout * 4e-7,
                        latency_ms=rng.uniform(200, 3_000),
                        ttft_ms=rng.uniform(50, 800),
                        error="boom" if failed else None,
                        error_kind="server_error" if failed else None,
                        finished_at=day + timedelta(milliseconds=i),
                    )
                )
            store.add_cells(run.id, batch, cache=False)
            store.finish(run.id, "finished")
            if first and first % 100_000 == 0:
                print(f"  {first:,} cells stored ({time.monotonic() - started:.0f} s)", flush=True)
    print(f"built {cells:,} cells in {time.monotonic() - started:.0f} s: {path}")


def whole_process(args: list[str], vault: Path | None) -> float:
    env = {**os.environ, "WORKBENCH_VAULT": str(vault)} if vault else dict(os.environ)
    where = ["--vault", str(vault)] if vault else []
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "workbench", *args, *where],
        capture_output=True, env=env, check=False,
    )  # fmt: skip
    took = time.perf_counter() - t0
    if done.returncode not in (0, 1):
        raise SystemExit(f"workbench {' '.join(args)} failed: {done.stderr.decode()[-500:]}")
    return took * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="build or reuse this vault")
    args = parser.parse_args()
    path = args.keep or Path(tempfile.mkdtemp(prefix="wb-runlog-")) / "vault.sqlite3"
    if not path.exists():
        build(path, args.cells)
    baseline = Path(tempfile.mkdtemp(prefix="wb-runlog-base-")) / "vault.sqlite3"
    build(baseline, 3 * RUN_SIZE)
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    since = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
    commands = [["costs", "--by", by] for by in COST_GROUPS] + [
        ["costs", "--by", "model", "--since", since],
        ["log", "--limit", "100"],
        ["log", "--prompt", "team1/prompt1", "--limit", "100"],
        ["log", "--errors", "--limit", "100"],
        ["costs"],
    ]
    with Vault.open(path) as vault:
        store = RunStore(vault)
        in_process: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for by in COST_GROUPS:
                t0 = time.perf_counter()
                store.costs_by(by)
                in_process.setdefault(f"costs_by({by})", []).append(
                    (time.perf_counter() - t0) * 1000
                )
            t0 = time.perf_counter()
            store.log(limit=100)
            in_process.setdefault("log(limit=100)", []).append((time.perf_counter() - t0) * 1000)
    print("in process (the query alone), median of", args.rounds, "rounds:")
    for name, times in in_process.items():
        print(f"  {name:28s} {statistics.median(times):8.0f} ms  (max {max(times):.0f})")
    print(
        "whole process, as a person runs it (python -m workbench ...), median;"
        f" baseline = the same command on a {3 * RUN_SIZE:,}-cell vault, same rounds:"
    )
    big: dict[str, list[float]] = {" ".join(c): [] for c in commands}
    base: dict[str, list[float]] = {" ".join(c): [] for c in commands}
    bare: list[float] = []
    for _ in range(args.rounds):
        bare.append(whole_process(["--version"], None))
        for c in commands:  # interleaved: each round runs every command on both vaults
            big[" ".join(c)].append(whole_process(c, path))
            base[" ".join(c)].append(whole_process(c, baseline))
    print(f"  workbench --version (the bare start) {statistics.median(bare):8.0f} ms")
    for name, times in big.items():
        ratios = [b / s for b, s in zip(times, base[name], strict=True)]
        print(
            f"  workbench {name:44s} {statistics.median(times):6.0f} ms"
            f"  baseline {statistics.median(base[name]):6.0f} ms"
            f"  ratio {statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
        )
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    print(f"(cells: {args.cells:,}; vault {path.stat().st_size / 1e6:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
