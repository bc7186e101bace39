"""A commit from the window while a big bundle import runs (default 200,000 versions).

The window (offscreen, in this process, as the app builds it) imports a bundle written
in the app's own export format (File → Import: a child process reads, checks and
writes it, in the vault writer's turn); as soon as the import is under way, the editor
commits an edit (Ctrl+S on the commit message). The commit queues behind the import and
lands when it ends. Prints figures, asserts nothing:

- start, read, write: the child starting (to its first step), reading and checking the
  file, and its one transaction (to the window hearing the import's end);
- commit: Ctrl+S to the commit being in the vault, and how long after the import's end
  it landed (the target: right after, so wait ~ the import's time);
- whether it failed (an error or crash dialog) and whether the progress bar showed;
- the GUI thread's responsiveness: the longest gaps between ticks of a 50 ms QTimer,
  minus 50 ms, per phase (starting, reading, writing, after); the longest over the
  whole import is the window's longest stall;
- the load average (2 shared cores move every figure a lot).

    .venv/bin/python bench/import_commit.py [--prompts 10000] [--versions 20]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICK_MS = 50
sys.path.insert(0, str(ROOT))


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=10_000)
    ap.add_argument("--versions", type=int, default=20, help="versions per prompt")
    ap.add_argument("--vocabulary", type=int, default=5000)
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QSettings, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from bench.vault_scale import Zipf, make_bundle, vocabulary
    from workbench.app.import_child import StageEvent
    from workbench.core.models import Message, PromptContent
    from workbench.engine.runner import ECHO_PROFILE, Engine
    from workbench.secrets.store import MemoryStore
    from workbench.settings import Settings
    from workbench.ui.main_window import MainWindow
    from workbench.vault import Vault

    tmp = Path(tempfile.mkdtemp(prefix="import-commit-"))
    os.environ["WORKBENCH_DATA_DIR"] = str(tmp / "data")
    (tmp / "data").mkdir()
    print(f"load before: {load()}", flush=True)
    started = time.perf_counter()
    rng = random.Random(5)
    bundle = make_bundle(
        args.prompts, args.versions, rng, Zipf(vocabulary(args.vocabulary, rng), rng)
    )
    path = tmp / "big.json"
    path.write_text(bundle.model_dump_json(), encoding="utf-8")
    total = sum(len(p.versions) for p in bundle.prompts)
    del bundle
    print(
        f"bundle: {total:,} versions, {path.stat().st_size / 1e6:.0f} MB "
        f"(made in {time.perf_counter() - started:.1f} s)",
        flush=True,
    )

    app = QApplication(sys.argv[:1])
    vault = Vault.open(tmp / "vault.sqlite3", create=True, actor="bench")
    content = PromptContent(messages=(Message(role="system", template="You are brief."),))
    vault.commit("bench/open", content, "first")
    profiles = {"echo": ECHO_PROFILE}
    window = MainWindow(
        vault, Settings(default_models=["echo:echo"]),
        engine_factory=lambda: Engine(vault, profiles, keys=lambda _p: None),
        profiles=lambda: profiles, secrets=MemoryStore, data_dir=tmp / "data",
        qsettings=QSettings(str(tmp / "layout.ini"), QSettings.Format.IniFormat),
        sync_interval_s=0,
    )  # fmt: skip
    window.show()
    window.browser.select("bench/open")
    window.tabs.setCurrentWidget(window.editor)
    editor = window.editor

    marks: dict[str, float] = {}
    gaps: list[tuple[float, str]] = []
    stages: list[str] = []
    last = [time.perf_counter()]
    seen_progress = [False]

    def phase() -> str:
        if "imported" in marks:
            return "after"
        return stages[-1] if stages else "starting"

    def beat() -> None:
        now = time.perf_counter()
        gaps.append(((now - last[0]) * 1000 - TICK_MS, phase()))
        last[0] = now
        seen_progress[0] = seen_progress[0] or window.write_progress.isVisible()
        if "asked" not in marks and window.writer.busy.startswith("importing"):
            commit()
        if "committed" in marks and "imported" in marks:
            heartbeat.stop()
            app.quit()

    def commit() -> None:
        text = editor.message_editors[0].text
        text.setFocus()
        text.moveCursor(text.textCursor().MoveOperation.End)
        text.insertPlainText(" Sign off with your name.")
        editor.commit_bar.message.setText("sign off")
        editor.refresh()
        marks["asked"] = time.perf_counter()
        QTest.keyClick(editor.commit_bar.message, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)

    def on_stage(event: StageEvent) -> None:
        stages.append(event.stage)
        marks.setdefault(event.stage, time.perf_counter())

    window.import_stage.connect(on_stage)
    window.bundle_imported.connect(lambda _r: marks.setdefault("imported", time.perf_counter()))
    editor.committed.connect(lambda _v: marks.setdefault("committed", time.perf_counter()))
    heartbeat = QTimer(interval=TICK_MS)
    heartbeat.timeout.connect(beat)

    def start() -> None:
        marks["start"] = time.perf_counter()
        last[0] = marks["start"]
        heartbeat.start()
        window.import_bundle(path)

    QTimer.singleShot(0, start)
    app.exec()
    load_after = load()

    child_start = marks["reading"] - marks["start"]
    read = marks["writing"] - marks["reading"]
    write = marks["imported"] - marks["writing"]
    wait = marks["committed"] - marks["asked"]
    after = marks["committed"] - marks["imported"]
    failed = window.reporter.last_dialog is not None
    landed = len(vault.history("bench/open")) == 2
    print(
        f"import: {child_start + read + write:.1f} s "
        f"(child start {child_start:.1f} s, read {read:.1f} s, write {write:.1f} s)"
    )
    print(
        f"commit: asked {marks['asked'] - marks['start']:.1f} s in, waited {wait:.1f} s, "
        f"landed {after * 1000:.0f} ms after the import's end; "
        f"{'in the vault' if landed else 'NOT in the vault'}; "
        f"{'an error was shown' if failed else 'no error'}"
    )
    print(f"progress bar shown: {'yes' if seen_progress[0] else 'no'}")
    during = [g for g, p in gaps if p != "after"]
    if during:
        print(f"GUI's longest stall during the import: {max(during):.0f} ms")
    for name in ("starting", "reading", "writing", "after"):
        part = sorted((g for g, p in gaps if p == name), reverse=True)
        if part:
            print(
                f"GUI gaps while {name}: max {part[0]:.0f} ms, "
                f"p99 {part[len(part) // 100]:.0f} ms over {len(part)} ticks"
            )
    print(f"load after: {load_after}")
    window.close()
    vault.close()


if __name__ == "__main__":
    main()
