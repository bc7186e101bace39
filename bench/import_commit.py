"""A commit from the window while a big bundle import runs (default 200,000 versions).

The window (offscreen, in this process, as the app builds it) imports a bundle written
in the app's own export format; as soon as the vault writer is writing it, the editor
commits an edit (Ctrl+S on the commit message). The commit queues behind the import and
lands when it ends. Prints figures, asserts nothing:

- read: the bundle file read and checked (off the GUI thread, before the write);
- write: the import's one transaction on the vault writer's thread;
- commit wait: Ctrl+S to the commit being in the vault, and how long after the import's
  end it landed (the target: within the import's time, so wait <= read + write);
- whether it failed (an error or crash dialog) and whether the progress bar showed;
- the GUI thread's responsiveness: the longest gaps between ticks of a 10 ms QTimer,
  minus 10 ms, per phase (reading, writing, after);
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
    last = [time.perf_counter()]
    seen_progress = [False]

    def phase() -> str:
        if "imported" in marks:
            return "after"
        return "writing" if "writing" in marks else "reading"

    def beat() -> None:
        now = time.perf_counter()
        gaps.append(((now - last[0]) * 1000 - 10, phase()))
        last[0] = now
        seen_progress[0] = seen_progress[0] or window.write_progress.isVisible()
        if "writing" not in marks and window.writer.busy.startswith("importing"):
            marks["writing"] = now
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

    window.bundle_imported.connect(lambda _r: marks.setdefault("imported", time.perf_counter()))
    editor.committed.connect(lambda _v: marks.setdefault("committed", time.perf_counter()))
    heartbeat = QTimer(interval=10)
    heartbeat.timeout.connect(beat)

    def start() -> None:
        marks["start"] = time.perf_counter()
        last[0] = marks["start"]
        heartbeat.start()
        window.import_bundle(path)

    QTimer.singleShot(0, start)
    app.exec()
    load_after = load()

    read = marks["writing"] - marks["start"]
    write = marks["imported"] - marks["writing"]
    wait = marks["committed"] - marks["asked"]
    after = marks["committed"] - marks["imported"]
    failed = window.reporter.last_dialog is not None
    landed = len(vault.history("bench/open")) == 2
    print(f"import: {read + write:.1f} s (read {read:.1f} s, write {write:.1f} s)")
    print(
        f"commit: asked {marks['asked'] - marks['start']:.1f} s in, waited {wait:.1f} s, "
        f"landed {after * 1000:.0f} ms after the import's end; "
        f"{'in the vault' if landed else 'NOT in the vault'}; "
        f"{'an error was shown' if failed else 'no error'}"
    )
    print(f"progress bar shown: {'yes' if seen_progress[0] else 'no'}")
    for name in ("reading", "writing", "after"):
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
