"""How long does a run take to end once its provider dies (killed) or hangs (stopped)?

Starts the local provider server in its own process (200 ms time to first token),
runs a 300-cell matrix through :class:`workbench.engine.runner.Engine` at
concurrency 16 into a temporary vault, and once 40 cells have finished either
kills the server (SIGKILL: connections refused from then on) or stops it (SIGSTOP:
the kernel still accepts connections, nobody answers). It prints the seconds
from that moment to the end of the run, the cells stored, how the failed cells
name their cause, and the load average.

    .venv/bin/python bench/dead_provider.py                 # killed, 3 rounds
    .venv/bin/python bench/dead_provider.py --mode hang     # stopped
    .venv/bin/python bench/dead_provider.py --give-up 120   # stop waiting after 120 s

It prints; it asserts nothing (the bounds are tested in tests/unit/engine).

Figures on the 2-core shared project machine, 2 Dec 2026 (seconds from the kill or stop
to the end of the run; 1-min load average in brackets; 300/300 cells stored in every run):

    engine                              killed                 hung (stopped)
    before (3025376), profile default   56.2, 58.7  (0.2)      -
    before, profile concurrency 16      29.1, 29.1  (2.0)      > 148 (6.0; gave up, 80 cells done)
    after, profile default (no cap)     0.08, 0.05, 0.14 (1.6) 30.4, 30.5 (5.9-6.1)
    after, profile concurrency 16       0.07, 0.08 (1.6)

Before, every remaining cell was retried 4 times against the dead port ("connect
timeout 5s" though the port refused), and a stopped server cost 60 s (the read
timeout) per wave of 16 cells. After, 3 failures in a row open the profile's circuit
breaker: the rest fail at once with "provider unreachable: could not connect to
...: connection refused"; a stopped server costs one first-byte timeout (30 s).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_transports import start_server  # noqa: E402
from tests.providerserver import DEFAULT_KEY  # noqa: E402
from workbench.core.models import Message, ModelDefaults, PromptContent, Variable  # noqa: E402
from workbench.core.runs import CellKey, CellResult, ModelRef, RunSpec, TestCase  # noqa: E402
from workbench.engine.runner import Engine  # noqa: E402
from workbench.providers.profiles import ProviderProfile  # noqa: E402
from workbench.vault import Vault  # noqa: E402
from workbench.vault.runs import RunStore  # noqa: E402

CELLS = 300
CONCURRENCY = 16
KILL_AFTER = 40


class Killer:
    """Kills (or stops) the server once ``KILL_AFTER`` cells have finished."""

    def __init__(self, pid: int, sig: signal.Signals) -> None:
        self.pid, self.sig = pid, sig
        self.at: float | None = None

    def on_delta(self, key: CellKey, text: str) -> None:
        pass

    def on_cell(self, cell: CellResult, done: int, total: int, spent_usd: float) -> None:
        if done == KILL_AFTER and self.at is None:
            os.kill(self.pid, self.sig)
            self.at = time.perf_counter()


def one_round(mode: str, give_up: float, profile_concurrency: int | None) -> None:
    proc, url = start_server()
    sig = signal.SIGKILL if mode == "kill" else signal.SIGSTOP
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            Vault.open(Path(tmp) / "v.sqlite3", create=True, actor="bench") as vault,
        ):
            content = PromptContent(
                messages=(Message(role="user", template="Tell me about {{ topic }}."),),
                model=ModelDefaults(max_tokens=50),
                variables=(Variable(name="topic"),),
            )
            vault.commit("bench/dead", content, "v1")
            version = vault.history("bench/dead")[0]
            profile = ProviderProfile(
                name="local",
                family="openai",
                base_url=f"{url}/v1",
                key_env="BENCH_KEY",
                **({"concurrency": profile_concurrency} if profile_concurrency else {}),
            )
            spec = RunSpec(
                prompt="bench/dead",
                version_ids=(version.id,),
                models=(ModelRef(profile="local", model="test-model"),),
                cases=tuple(
                    TestCase(name=f"c{i}", values={"topic": f"t{i}"}) for i in range(CELLS)
                ),
                concurrency=CONCURRENCY,
            )
            engine = Engine(vault, {"local": profile}, keys=lambda _p: DEFAULT_KEY)
            killer = Killer(proc.pid, sig)

            async def go() -> str:
                try:
                    run = await asyncio.wait_for(engine.run(spec, killer), give_up)
                except TimeoutError:
                    return "gave up"
                return run.status

            status = asyncio.run(go())
            end = time.perf_counter()
            after = end - (killer.at or end)
            errors: collections.Counter[str] = collections.Counter()
            run_cells = 0
            for row in RunStore(vault).list_runs():
                cells = RunStore(vault).load(row.id).cells
                run_cells = len(cells)
                for c in cells:
                    if not c.ok:
                        errors[(c.error or "")[:90]] += 1
            top = "; ".join(f"{n}x {e!r}" for e, n in errors.most_common(2))
            load = os.getloadavg()
            print(
                f"{mode:<5} ended {after:6.2f} s after the {mode} ({status}); "
                f"{run_cells}/{CELLS} cells stored, {sum(errors.values())} failed; "
                f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n      {top}",
                flush=True,
            )
    finally:
        if mode == "hang":
            os.kill(proc.pid, signal.SIGCONT)
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["kill", "hang"], default="kill")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--give-up", type=float, default=180.0)
    parser.add_argument(
        "--profile-concurrency", type=int, help="the profile's own limit (default: unset)"
    )
    args = parser.parse_args()
    for _ in range(args.rounds):
        one_round(args.mode, args.give_up, args.profile_concurrency)


if __name__ == "__main__":
    main()
