"""Desktop app figures: cold start with a 10,000-prompt vault, and the longest GUI
stall while a 300-call comparison streams into the grid.

Prints figures, asserts nothing. Targets (issue 4): start <= 1.0 s, stall <= 50 ms.

    .venv/bin/python bench/gui_start.py [--prompts 10000] [--calls 300] [--engine thread]

Start is measured from launching a new Python process to the window being shown
and its first event-loop turn done (the child prints when it gets there). The stall
is the longest gap between ticks of a 10 ms QTimer heartbeat, minus 10 ms, while
the run streams from the local provider server (its own process, TTFT 0.2 s).
The engine runs in a child process, as in the app; ``--engine thread`` runs it on a
thread of the GUI process instead, for comparison.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def seed(path: Path, prompts: int) -> None:
    from bench.vault_scale import Zipf, make_bundle, vocabulary
    from workbench.vault import Vault

    rng = random.Random(7)
    zipf = Zipf(vocabulary(2000, rng), rng)
    with Vault.open(path, create=True, actor="bench") as vault:
        vault.import_bundle(make_bundle(prompts, 2, rng, zipf))


BENCH_KEY_ENV = "WORKBENCH_BENCH_KEY"


def child(vault_path: Path, server_url: str, calls: int, engine_mode: str) -> None:
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from workbench.ui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    from workbench.engine.runner import ECHO_PROFILE, Engine
    from workbench.providers.profiles import ProviderProfile
    from workbench.secrets.store import MemoryStore
    from workbench.settings import Settings
    from workbench.ui.theme import apply_theme
    from workbench.ui.worker import EngineProcess
    from workbench.vault import Vault

    apply_theme(app, "light")
    data = Path(os.environ["WORKBENCH_DATA_DIR"])
    vault = Vault.open(vault_path)
    os.environ[BENCH_KEY_ENV] = "sk-test-0123456789abcdef"  # the engine process reads it
    profile = ProviderProfile(
        name="local", family="openai", base_url=f"{server_url}/openai/v1", key_env=BENCH_KEY_ENV,
        models=("test-model", "test-model-2"), concurrency=64,
    )  # fmt: skip
    profiles = {"echo": ECHO_PROFILE, "local": profile}
    window = MainWindow(
        vault, Settings(default_models=["local:test-model", "local:test-model-2"], concurrency=64),
        engine_factory=lambda: Engine(vault, profiles, keys=lambda _p: "sk-test-0123456789abcdef"),
        profiles=lambda: profiles, secrets=MemoryStore, data_dir=data,
        qsettings=QSettings(str(data / "layout.ini"), QSettings.Format.IniFormat),
    )  # fmt: skip
    if engine_mode == "process":
        window.controller.use_process(EngineProcess(vault_path, lambda: profiles))
    window.show()

    def ready() -> None:
        print(f"READY {time.time():.6f} prompts={window.browser.model.rowCount()}", flush=True)
        start_run()

    gaps: list[float] = []
    began = [0.0]
    last = [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1000)
        last[0] = now

    heartbeat = QTimer(interval=10)
    heartbeat.timeout.connect(beat)

    def start_run() -> None:
        from workbench.core.runs import TestCase

        name = vault.prompt_names()[0]
        n_cases = max(1, calls // 4)  # 2 versions x 2 models x n cases
        vault.set_test_cases(
            name,
            [
                TestCase(name=f"c{i}", values={"question": f"q{i}", "topic": "t"})
                for i in range(n_cases)
            ],
        )
        window.browser.select(name)
        window.tabs.setCurrentWidget(window.compare)
        window.compare.check_only(models=["local:test-model", "local:test-model-2"])
        window.compare.run_finished.connect(done)
        last[0] = time.perf_counter()
        heartbeat.start()
        began[0] = time.perf_counter()
        window.compare.start_run()

    def done(run: object) -> None:
        took = time.perf_counter() - began[0]
        heartbeat.stop()
        cells = len(window.compare.grid_model.cells)
        worst = max(gaps) - 10 if gaps else 0.0
        ordered = sorted(gaps)
        p99 = ordered[int(len(ordered) * 0.99) - 1] - 10 if ordered else 0.0
        print(
            f"STALL max={worst:.1f} p99={p99:.1f} ticks={len(gaps)} cells={cells} took={took:.2f}",
            flush=True,
        )
        window.close()
        app.quit()

    QTimer.singleShot(0, ready)
    app.exec()
    vault.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=10_000)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--engine", choices=("process", "thread"), default="process")
    ap.add_argument("--child", nargs=2, metavar=("VAULT", "SERVER_URL"))
    args = ap.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1], args.calls, args.engine)
        return
    work = Path(tempfile.mkdtemp(prefix="gui-bench-"))
    vault = work / "vault.sqlite3"
    t = time.perf_counter()
    seed(vault, args.prompts)
    print(f"seeded {args.prompts:,} prompts x 2 versions in {time.perf_counter() - t:.1f} s")
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
           "WORKBENCH_DATA_DIR": str(work / "data")}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.providerserver", "--ttft", "0.2", "--chunks", "8"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        launched = time.time()
        proc = subprocess.run(
            [sys.executable, __file__, "--calls", str(args.calls), "--engine", args.engine,
             "--child", str(vault), url],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=10)
    ready = next((ln for ln in proc.stdout.splitlines() if ln.startswith("READY")), None)
    stall = next((ln for ln in proc.stdout.splitlines() if ln.startswith("STALL")), None)
    if ready is None or stall is None:
        print(proc.stdout, proc.stderr[-3000:])
        sys.exit(1)
    start_s = float(ready.split()[1]) - launched
    print(
        f"cold start to a usable window ({args.prompts:,} prompts)  {start_s * 1000:7.0f} ms"
        "  target <= 1000 ms"
    )
    fields = dict(kv.split("=") for kv in stall.split()[1:])
    print(
        f"longest GUI stall, {fields['cells']}-call run streaming  {float(fields['max']):7.1f} ms"
        f"  (engine: {args.engine})"
        "  target <= 50 ms"
    )
    print(
        f"  p99 heartbeat delay                      {float(fields['p99']):7.1f} ms"
        f"  ({fields['ticks']} ticks)"
    )
    note = "  (includes starting the engine process)" if args.engine == "process" else ""
    print(
        f"  run, Run pressed to last cell shown      {float(fields['took']) * 1000:7.0f} ms{note}"
    )


if __name__ == "__main__":
    main()
