"""One vault writer in the window: a bundle import runs in a child process (the
window's event loop keeps running while it parses and writes) in the writer's turn, and
a commit made meanwhile queues behind it (a progress bar says what is written and that
the commit waits) instead of waiting on SQLite's lock from the GUI thread and failing
with "database is locked". bench/import_commit.py measures the 200,000-version case."""

from __future__ import annotations

import random
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QProgressBar

from bench.vault_scale import Zipf, make_bundle, vocabulary
from tests.gui.conftest import two_versions
from tests.gui.people import click_tab, text_edit_showing
from workbench.app.import_child import StageEvent
from workbench.vault import Vault

IMPORT_MS = 120_000
"""5,000 versions in a child process: seconds, a minute on a badly loaded machine."""


def test_a_commit_during_a_big_import_waits_its_turn_and_lands(
    qtbot, window, vault: Vault, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    two_versions(vault)
    rng = random.Random(5)
    bundle = make_bundle(500, 10, rng, Zipf(vocabulary(800, rng), rng))  # 5,000 versions
    path = tmp_path / "big.json"
    path.write_text(bundle.model_dump_json(), encoding="utf-8")  # the app's bundle format
    window.browser.reload()
    window.browser.select("support/reply")
    click_tab(window, "Editor")
    editor = window.editor
    qtbot.waitUntil(
        lambda: bool(editor.message_editors) and editor.message_editors[0].text.isVisible()
    )
    progress = window.statusBar().findChild(QProgressBar, "writeProgress")
    assert not progress.isVisible()
    # A person edits the open prompt and writes a commit message...
    edit = text_edit_showing(window, "You are a friendly support agent. Be brief.")
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(edit, " Sign off with your name.")
    qtbot.keyClicks(editor.commit_bar.message, "sign off")
    editor.refresh()

    # The GUI thread's heartbeat: ticks of a 20 ms timer, counted per step of the import.
    ticks = {"before writing": 0, "writing": 0}
    stages: list[str] = []
    order: list[str] = []
    window.import_stage.connect(lambda e: stages.append(e.stage))
    window.bundle_imported.connect(lambda _r: order.append("imported"))
    editor.committed.connect(lambda _v: order.append("committed"))

    def tick() -> None:
        if not order:  # the import runs
            ticks["writing" if "writing" in stages else "before writing"] += 1

    beat = QTimer()
    beat.timeout.connect(tick)
    beat.start(20)

    with qtbot.waitSignal(window.bundle_imported, timeout=IMPORT_MS) as imported:
        window.import_bundle(path)  # File → Import bundle… with the file chosen
        assert progress.isVisible()
        assert window.writer.busy == "importing big.json"
        assert "importing big.json" in window.statusBar().currentMessage()
        # ...and clicks Commit while the import runs.
        with qtbot.assertNotEmitted(editor.committed, wait=0):
            qtbot.mouseClick(editor.commit_bar.button, Qt.MouseButton.LeftButton)
        assert editor.commit_bar.button.text() == "Waiting…"
        assert not editor.commit_bar.button.isEnabled()
        assert "as soon as importing big.json is done" in editor.commit_bar.reason.text()
        assert progress.isVisible()  # still: the commit waits behind the import
        assert progress.format().endswith("· 1 waiting")
        assert "1 write(s) wait for it" in progress.toolTip()
        qtbot.waitUntil(lambda: "writing" in stages, timeout=IMPORT_MS)
        assert progress.format() == "Importing big.json (2/2)… · 1 waiting"
        assert "writing 5,000 versions of 500 prompts" in progress.toolTip()
        with qtbot.waitSignal(editor.committed, timeout=IMPORT_MS) as committed:
            pass
    beat.stop()
    assert order == ["imported", "committed"]  # queued behind the import, not lost
    assert stages == ["reading", "writing"]
    assert ticks["before writing"] > 0 and ticks["writing"] > 0  # the window kept running
    assert imported.args[0].versions_added == 5_000
    assert len(vault.prompt_names()) == 501
    version = committed.args[0]
    assert version.prompt == "support/reply"
    assert vault.history("support/reply")[-1].id == version.id
    assert len(vault.history("support/reply")) == 3
    assert "Sign off with your name." in version.content.messages[0].template
    assert window.reporter.last_dialog is None  # no error, no crash dialog
    assert editor.commit_bar.button.text() == "Commit"
    assert window.writer.busy == ""
    assert not progress.isVisible()


def test_closing_the_window_during_an_import_ends_it_and_imports_nothing(
    qtbot, window, vault: Vault, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    two_versions(vault)
    rng = random.Random(6)
    bundle = make_bundle(500, 10, rng, Zipf(vocabulary(800, rng), rng))  # seconds of writing
    path = tmp_path / "big.json"
    path.write_text(bundle.model_dump_json(), encoding="utf-8")
    stages: list[StageEvent] = []
    window.import_stage.connect(stages.append)
    window.import_bundle(path)
    # The child is inside its one transaction.
    qtbot.waitUntil(lambda: any(e.stage == "writing" for e in stages), timeout=IMPORT_MS)
    window.close()
    qtbot.waitUntil(lambda: window.writer.idle, timeout=30_000)  # its thread saw the end
    assert vault.prompt_names() == ["support/reply"]  # one transaction: nothing of it
    assert vault.integrity_check() == "ok"
    assert window.reporter.last_dialog is None  # a cancel is no error


def test_a_bundle_that_cannot_be_read_says_so_and_hides_the_bar(
    qtbot, window, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "broken.json"
    path.write_text('{"format": "nope"', encoding="utf-8")
    progress = window.statusBar().findChild(QProgressBar, "writeProgress")
    with qtbot.waitSignal(window.reporter.shown, timeout=30_000) as shown:
        window.import_bundle(path)
        assert progress.isVisible()
    assert shown.args[0] == "Could not import the bundle"
    assert not progress.isVisible()
    assert window.writer.busy == ""
