"""The comparison engine at full tilt: is it as fast as the network lets it be?

By default: whole processes, as a user runs them. ``workbench compare`` (process
start to exit) beside ``bench/bare_client.py`` (a bare aiohttp client, also a whole
process) against the same local server, interleaved, 5 rounds; medians, ratios,
TTFT error (stored TTFT minus the server's 200 ms) and the load average. The README's
Performance section has the figures, load and machine (compare ratios from one run
only: machines of this kind differ more than code changes do).

Runs a real matrix through :class:`workbench.engine.runner.Engine`, recording every
cell in a temporary vault, against the local provider server in its own process
(so the server's CPU is not charged to the engine): 200 ms time to first token,
8 chunks a reply, OpenAI wire format. Three figures matter:

- wall time beside the ideal floor ceil(calls / concurrency) x TTFT, and beside a
  bare aiohttp client (``bench/http_transports.py``) making as many calls at the
  same concurrency against the same server in the same run;
- the engine's CPU per call (this process: event loop plus vault writer thread);
- the engine process's peak RSS.

With ``--in-process`` (or ``--quick``/``--profile``) also the engine in this process
(those three figures).

    .venv/bin/python bench/matrix.py              # whole processes: 300 @ 16, 1200 @ 64, 1 call
    .venv/bin/python bench/matrix.py --quick      # 300 @ 16 in process only
    .venv/bin/python bench/matrix.py --profile    # also cProfile the 1200 @ 64 run

Targets: 300 calls @ 16 <= 1.15x the bare client, 1,200 @ 64 <= 1.30x, one call
<= 0.8 s from process start, TTFT error <= 5 ms, and the engine's CPU per streamed call
(whole process, user + system, beyond what a one-call run costs) <= 2x the bare
client's. It prints; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import math
import os
import pstats
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.http_transports import CHUNKS, TTFT, bare_aiohttp, start_server  # noqa: E402
from tests.providerserver import DEFAULT_KEY  # noqa: E402
from workbench.core.models import Message, ModelDefaults, PromptContent, Variable  # noqa: E402
from workbench.core.runs import ModelRef, Run, RunSpec, TestCase  # noqa: E402
from workbench.engine.runner import Engine  # noqa: E402
from workbench.providers.profiles import ProviderProfile  # noqa: E402
from workbench.vault import Vault  # noqa: E402
from workbench.vault.runs import RunStore  # noqa: E402

WORKBENCH = ROOT / ".venv" / "bin" / "workbench"
PROMPT = "bench/matrix"
MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-nano")
"""Models genai-prices knows, so every cell is priced as a real run would be."""
VERSIONS = 4
KEY_ENV = "WORKBENCH_BENCH_KEY"
TARGETS = {16: 1.15, 64: 1.3}
RSS_TARGET_MB = 250
CLI_TARGET_S = 1.0
CLI_REPEATS = 5


@dataclass(frozen=True)
class Figures:
    wall_s: float
    cpu_s: float
    calls: int
    errors: int
    stored: int


def peak_rss_mb() -> float:
    """This process's peak resident set so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def version_content(n: int) -> PromptContent:
    """Version ``n`` of the prompt: one variable, a system message that changes."""
    return PromptContent(
        messages=(
            Message(role="system", template=f"You are assistant number {n}. Answer briefly."),
            Message(role="user", template="Tell me something useful about {{ topic }}."),
        ),
        model=ModelDefaults(temperature=0.2, max_tokens=200),
        variables=(Variable(name="topic"),),
    )


def fill_vault(vault: Vault) -> tuple[uuid.UUID, ...]:
    for n in range(1, VERSIONS + 1):
        vault.commit(PROMPT, version_content(n), f"version {n}")
    return tuple(v.id for v in vault.history(PROMPT))


def profile(url: str) -> ProviderProfile:
    # The profile limit is set above the run's so the run's own limit is the one measured.
    return ProviderProfile(
        name="local", family="openai", base_url=f"{url}/v1", key_env=KEY_ENV, concurrency=256
    )


def spec_for(version_ids: tuple[uuid.UUID, ...], cases: int, concurrency: int) -> RunSpec:
    return RunSpec(
        prompt=PROMPT,
        version_ids=version_ids,
        models=tuple(ModelRef(profile="local", model=m) for m in MODELS),
        cases=tuple(TestCase(name=f"c{i}", values={"topic": f"subject {i}"}) for i in range(cases)),
        concurrency=concurrency,
    )


async def _into(call: Coroutine[Any, Any, Run], out: list[Run]) -> None:
    """Await ``call`` in a task that returns nothing, keeping its result in ``out``.

    On Python 3.11, ``asyncio.run`` formats ``repr`` of its main task (result
    included) twice while restoring the SIGINT handler: ~25 ms each for a Run of
    1,200 cells. A task without a result keeps that out of the engine's figure.
    """
    out.append(await call)


def run_engine(vault: Vault, url: str, spec: RunSpec, profiler: cProfile.Profile | None) -> Figures:
    engine = Engine(vault, {"local": profile(url)}, keys=lambda _p: DEFAULT_KEY)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    result: list[Run] = []
    asyncio.run(_into(engine.run(spec), result))
    if profiler is not None:
        profiler.disable()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    run = result[0]
    stored = RunStore(vault).load(run.id)
    return Figures(
        wall_s=wall,
        cpu_s=cpu,
        calls=len(run.cells),
        errors=sum(1 for c in run.cells if not c.ok),
        stored=len(stored.cells),
    )


def matrix(url: str, vault: Vault, shapes: list[tuple[int, int]], profile_run: bool) -> None:
    version_ids = fill_vault(vault)
    header = (
        f"{'calls@conc':>11} {'client':<13} {'wall s':>7} {'floor s':>7} {'x floor':>7} "
        f"{'x bare':>6} {'CPU s':>6} {'CPU ms/call':>11} {'peak RSS MB':>11}  target"
    )
    print(header)
    print("-" * len(header))
    for cases, concurrency in shapes:
        spec = spec_for(version_ids, cases, concurrency)
        calls = spec.total_cells
        floor = math.ceil(calls / concurrency) * TTFT
        shape = f"{calls}@{concurrency}"
        bare_wall, bare_cpu, _ = asyncio.run(bare_aiohttp(url, calls, concurrency))
        print(
            f"{shape:>11} {'bare aiohttp':<13} {bare_wall:7.2f} {floor:7.2f} "
            f"{bare_wall / floor:7.2f} {1:6.2f} {bare_cpu:6.2f} "
            f"{bare_cpu / calls * 1000:11.2f} {'':>11}",
            flush=True,
        )
        profiler = cProfile.Profile() if profile_run and concurrency == 64 else None
        fig = run_engine(vault, url, spec, None)
        target = TARGETS.get(concurrency)
        verdict = ""
        if target is not None:
            ok = fig.wall_s <= target * floor
            verdict = f"<= {target:.2f}x floor: {'met' if ok else 'MISSED'}"
        print(
            f"{shape:>11} {'engine':<13} {fig.wall_s:7.2f} {floor:7.2f} "
            f"{fig.wall_s / floor:7.2f} {fig.wall_s / bare_wall:6.2f} {fig.cpu_s:6.2f} "
            f"{fig.cpu_s / calls * 1000:11.2f} {peak_rss_mb():11.1f}  {verdict}",
            flush=True,
        )
        if fig.errors or fig.stored != calls:
            print(f"{'':>11} !! {fig.errors} cells failed; {fig.stored}/{calls} in the vault")
        if profiler is not None:
            run_engine(vault, url, spec, profiler)
            print_profile(profiler, shape)
    rss = peak_rss_mb()
    print(
        f"peak RSS of this (engine) process: {rss:.1f} MB "
        f"(target <= {RSS_TARGET_MB} MB: {'met' if rss <= RSS_TARGET_MB else 'MISSED'})"
    )


def print_profile(profiler: cProfile.Profile, shape: str) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(30)
    print(f"\ncProfile of the engine, {shape} (a second run, under the profiler):")
    print(out.getvalue())


# ---- workbench compare from process start --------------------------------------------


def cli_env(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(data_dir), KEY_ENV: DEFAULT_KEY}
    env.pop("WORKBENCH_VAULT", None)
    # As an installed package runs: its modules' bytecode compiled once, not at every start
    # (kept outside the source tree, whatever PYTHONDONTWRITEBYTECODE says here).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(data_dir.parent / "pycache")
    return env


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return wall


def import_offenders(argv: list[str], env: dict[str, str], top: int = 15) -> str:
    """The slowest imports of one run: top-level packages by cumulative time, then by self."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], env=env, capture_output=True, text=True
    )
    rows: list[tuple[int, int, str]] = []
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((int(m[1]), int(m[2]), f"{len(m[3]) // 2}:{m[4]}"))
    by_cumulative = sorted((r for r in rows if r[2].startswith(("0:", "1:"))), key=lambda r: -r[1])
    by_self = sorted(rows, key=lambda r: -r[0])
    lines = ["  cumulative ms  (depth:module, depth 0-1)"]
    lines += [f"  {c / 1000:13.1f}  {name}" for _, c, name in by_cumulative[:top]]
    lines += ["  self ms        (depth:module)"]
    lines += [f"  {s / 1000:13.1f}  {name}" for s, _, name in by_self[:top]]
    return "\n".join(lines)


def cli_start(url: str, work: Path) -> None:
    data = work / "cli-data"
    env = cli_env(data)
    vault_path = work / "cli-vault.sqlite3"
    with Vault.open(vault_path, create=True) as vault:
        vault.commit("p", version_content(1), "first")
    cases = work / "one.csv"
    cases.write_text("name,topic\nc1,owls\n")
    add = [str(WORKBENCH), "provider", "add", "local", "--family", "openai"]
    add += ["--base-url", f"{url}/v1", "--key-env", KEY_ENV]
    timed(add, env)
    base = [str(WORKBENCH), "--vault", str(vault_path), "compare", "p", "--cases", str(cases)]
    print(f"\nworkbench compare of one call, wall from process start ({CLI_REPEATS} runs)")
    for label, model, server_ttft in (
        ("echo provider", "echo:echo", 0.0),
        (f"local server ({TTFT * 1000:.0f} ms TTFT)", "local:gpt-4o-mini", TTFT),
    ):
        argv = [*base, "--models", model]
        timed(argv, env)  # warm the OS file cache once
        walls = sorted(timed(argv, env) for _ in range(CLI_REPEATS))
        median = statistics.median(walls)
        verdict = "met" if median <= CLI_TARGET_S else "MISSED"
        extra = f"; {median - server_ttft:.2f} s without the server's TTFT" if server_ttft else ""
        print(
            f"  {label:<28} median {median:.2f} s (min {walls[0]:.2f}, max {walls[-1]:.2f})"
            f"{extra}  target <= {CLI_TARGET_S:.1f} s: {verdict}"
        )
        if median > CLI_TARGET_S:
            print(import_offenders([str(WORKBENCH), *argv[1:]], env))


# ---- whole processes, as a user runs them ---------------------------------------------

BARE = ROOT / "bench" / "bare_client.py"
PROCESS_SHAPES = ((25, 16), (100, 64))
"""(cases, concurrency): 300 calls at 16 and 1,200 at 64 (4 versions x 3 models)."""
ONE_CALL_TARGET_S = 0.8
CPU_PER_CALL_TARGET = 2.0
"""The engine's CPU per streamed call within 2x the bare client's."""
ROUNDS = 5


@dataclass
class Sample:
    walls: list[float]
    ttft_err_ms: list[float]
    cpus: list[float]
    """CPU seconds (user + system) of each whole process."""

    def median(self) -> float:
        return statistics.median(self.walls)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wall(argv: list[str], env: dict[str, str]) -> tuple[float, str, float]:
    """(wall s, stdout, CPU s of the process: user + system, as the kernel counted it)."""
    cpu0 = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall, done.stdout, _children_cpu() - cpu0


def _last_run_ttft_err_ms(vault_path: Path) -> tuple[float, int]:
    """Median (stored TTFT - the server's TTFT) of the newest run, and its stored cells."""
    with Vault.open(vault_path, actor="bench") as vault:
        store = RunStore(vault)
        row = store.list_runs(limit=1)[0]
        run = store.load(row.id)
    ttfts = [c.ttft_ms for c in run.cells if c.ttft_ms is not None]
    return statistics.median(ttfts) - TTFT * 1000, len(run.cells)


def whole_process(url: str, work: Path, rounds: int = ROUNDS) -> None:
    """Interleaved rounds of ``workbench compare`` and the bare aiohttp client, each a
    fresh process timed from start to exit, against the same server."""
    env = cli_env(work / "proc-data")
    add = [str(WORKBENCH), "provider", "add", "local", "--family", "openai"]
    add += ["--base-url", f"{url}/v1", "--key-env", KEY_ENV, "--concurrency", "256"]
    _wall(add, env)
    vault_path = work / "proc-vault.sqlite3"
    with Vault.open(vault_path, create=True, actor="bench") as vault:
        ids = fill_vault(vault)
    one_csv = work / "one.csv"
    one_csv.write_text("name,topic\nc1,owls\n")
    base = [str(WORKBENCH), "--vault", str(vault_path), "compare", PROMPT]
    jobs: dict[str, tuple[list[str], list[str], int]] = {}
    for cases, conc in PROCESS_SHAPES:
        csv_path = work / f"cases-{cases}.csv"
        csv_path.write_text("name,topic\n" + "".join(f"c{i},subject {i}\n" for i in range(cases)))
        calls = cases * VERSIONS * len(MODELS)
        wb = [*base, "--versions", ",".join(str(v) for v in ids)]
        wb += ["--models", ",".join(f"local:{m}" for m in MODELS)]
        wb += ["--cases", str(csv_path), "--concurrency", str(conc)]
        bare = [sys.executable, str(BARE), url, str(calls), str(conc), DEFAULT_KEY]
        jobs[f"{calls}@{conc}"] = (wb, bare, calls)
    one = [*base, "--models", "local:gpt-4o-mini", "--cases", str(one_csv)]
    jobs["1@1"] = (one, [sys.executable, str(BARE), url, "1", "1", DEFAULT_KEY], 1)
    samples = {(k, who): Sample([], [], []) for k in jobs for who in ("engine", "bare")}
    loads: list[tuple[float, float, float]] = []
    for argv in (one, jobs["1@1"][1]):  # warm the OS file cache once
        _wall(argv, env)
    print(f"\nwhole processes, start to exit, interleaved, {rounds} rounds")
    for r in range(1, rounds + 1):
        loads.append(os.getloadavg())
        line = [f"round {r} load {loads[-1][0]:.2f}:"]
        for shape, (wb, bare, calls) in jobs.items():
            for who, argv in (("bare", bare), ("engine", wb)):
                wall, out, cpu = _wall(argv, env)
                sample = samples[(shape, who)]
                sample.walls.append(wall)
                sample.cpus.append(cpu)
                if who == "bare":
                    sample.ttft_err_ms.append(json.loads(out)["ttft_ms"] - TTFT * 1000)
                else:
                    err, stored = _last_run_ttft_err_ms(vault_path)
                    sample.ttft_err_ms.append(err)
                    if stored != calls:
                        line.append(f"!! {shape}: {stored}/{calls} cells stored")
            e, b = samples[(shape, "engine")].walls[-1], samples[(shape, "bare")].walls[-1]
            line.append(f"{shape} {e:.2f}/{b:.2f}={e / b:.2f}x")
        print("  " + "  ".join(line), flush=True)
    print(
        f"\n{'calls@conc':>10} {'engine s':>8} {'bare s':>7} {'ratio':>6} {'ratios min-max':>15} "
        f"{'floor s':>7} {'x floor':>7} {'TTFT err ms eng/bare':>21}  target"
    )
    for shape, (_wb, _bare, calls) in jobs.items():
        eng, bare_s = samples[(shape, "engine")], samples[(shape, "bare")]
        ratios = [e / b for e, b in zip(eng.walls, bare_s.walls, strict=True)]
        conc = int(shape.split("@")[1])
        floor = math.ceil(calls / conc) * TTFT
        verdict = ""
        target = TARGETS.get(conc) if calls > 1 else None
        if target is not None:
            met = statistics.median(ratios) <= target
            verdict = f"<= {target:.2f}x bare: {'met' if met else 'MISSED'}"
        elif calls == 1:
            met = eng.median() <= ONE_CALL_TARGET_S
            verdict = f"<= {ONE_CALL_TARGET_S:.1f} s: {'met' if met else 'MISSED'}"
        ttft = (
            f"{statistics.median(eng.ttft_err_ms):.1f}/{statistics.median(bare_s.ttft_err_ms):.1f}"
        )
        print(
            f"{shape:>10} {eng.median():8.2f} {bare_s.median():7.2f} "
            f"{statistics.median(ratios):6.2f} {min(ratios):7.2f}-{max(ratios):<7.2f} "
            f"{floor:7.2f} {eng.median() / floor:7.2f} {ttft:>21}  {verdict}"
        )
    print(
        "\nCPU per streamed call, whole process (user + system), beyond what one call costs "
        "(so the start is not counted): (median CPU of the N-call run - median of the "
        "1-call run) / (N - 1)"
    )
    for shape, (_wb, _bare, calls) in jobs.items():
        if calls == 1:
            continue
        per: dict[str, float] = {}
        for who in ("engine", "bare"):
            start_cpu = statistics.median(samples[("1@1", who)].cpus)
            run_cpu = statistics.median(samples[(shape, who)].cpus)
            per[who] = (run_cpu - start_cpu) / (calls - 1) * 1000
        ratio = per["engine"] / per["bare"]
        verdict = "met" if ratio <= CPU_PER_CALL_TARGET else "MISSED"
        print(
            f"{shape:>10} engine {per['engine']:.2f} ms, bare {per['bare']:.2f} ms: "
            f"{ratio:.2f}x  target <= {CPU_PER_CALL_TARGET:.0f}x: {verdict}"
        )
    one_min = [load[0] for load in loads]
    print(
        f"load average (1 min) at each round: {', '.join(f'{x:.2f}' for x in one_min)}; "
        f"{os.cpu_count()} CPUs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="300 calls at 16 only; no CLI")
    parser.add_argument("--profile", action="store_true", help="cProfile the 1200 @ 64 run")
    parser.add_argument(
        "--in-process", action="store_true", help="the older in-process engine figures too"
    )
    parser.add_argument(
        "--rounds", type=int, default=ROUNDS, help=f"whole-process rounds (default {ROUNDS})"
    )
    args = parser.parse_args()
    shapes = [(25, 16)] if args.quick else [(25, 16), (100, 64)]
    proc, url = start_server()
    try:
        print(
            f"server {url} (own process): TTFT {TTFT * 1000:.0f} ms, {CHUNKS} chunks a reply; "
            f"{VERSIONS} versions x {len(MODELS)} models x N cases, every cell in the vault"
        )
        with tempfile.TemporaryDirectory(prefix="wb-matrix-") as tmp:
            work = Path(tmp)
            if args.in_process or args.quick or args.profile:
                with Vault.open(work / "vault.sqlite3", create=True, actor="bench") as vault:
                    matrix(url, vault, shapes, args.profile)
            if not args.quick:
                whole_process(url, work, args.rounds)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)


if __name__ == "__main__":
    main()
