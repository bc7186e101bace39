"""One vault writer in the window: a commit made while a big import runs queues behind
it (the window stays responsive, a progress bar says what is written) instead of
waiting on SQLite's lock from the GUI thread and failing with "database is locked"
after the busy timeout. bench/import_commit.py measures the 200,000-version case."""

from __future__ import annotations

import random
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QProgressBar

from bench.vault_scale import Zipf, make_bundle, vocabulary
from tests.gui.conftest import two_versions
from tests.gui.people import click_tab, text_edit_showing
from workbench.vault import Vault

IMPORT_MS = 300_000
"""20,000 versions on a loaded 2-core machine: a minute or two, never ten."""


def test_a_commit_during_a_big_import_waits_its_turn_and_lands(
    qtbot, window, vault: Vault, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    two_versions(vault)
    rng = random.Random(5)
    bundle = make_bundle(2_000, 10, rng, Zipf(vocabulary(800, rng), rng))  # 20,000 versions
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

    # The GUI thread's heartbeat: the longest gap between 20 ms ticks (printed only).
    gaps: list[float] = []
    last = [time.perf_counter()]
    order: list[str] = []
    window.bundle_imported.connect(lambda _r: order.append("imported"))
    editor.committed.connect(lambda _v: order.append("committed"))

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    beat = QTimer()
    beat.timeout.connect(tick)
    beat.start(20)

    with qtbot.waitSignal(window.bundle_imported, timeout=IMPORT_MS) as imported:
        window.import_bundle(path)
        # The file is read off the GUI thread first, then written; the bar shows both.
        assert progress.isVisible()
        qtbot.waitUntil(lambda: window.writer.busy == "importing big.json", timeout=IMPORT_MS)
        assert progress.isVisible()
        assert progress.format() == "Importing big.json…"
        assert "importing big.json" in window.statusBar().currentMessage()
        # A person edits the open prompt and presses Ctrl+S while the import runs.
        edit = text_edit_showing(window, "You are a friendly support agent. Be brief.")
        edit.setFocus()
        qtbot.keyClick(edit, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClicks(edit, " Sign off with your name.")
        qtbot.keyClicks(editor.commit_bar.message, "sign off")
        editor.refresh()
        with qtbot.assertNotEmitted(editor.committed, wait=0):
            qtbot.keyClick(
                editor.commit_bar.message, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier
            )
        assert editor.commit_bar.button.text() == "Waiting…"
        assert not editor.commit_bar.button.isEnabled()
        assert "as soon as importing big.json is done" in editor.commit_bar.reason.text()
        assert progress.isVisible()  # still: the commit waits behind the import
        with qtbot.waitSignal(editor.committed, timeout=IMPORT_MS) as committed:
            pass
    beat.stop()
    assert order == ["imported", "committed"]  # queued behind the import, not lost
    assert imported.args[0].versions_added == 20_000
    version = committed.args[0]
    assert version.prompt == "support/reply"
    assert vault.history("support/reply")[-1].id == version.id
    assert "Sign off with your name." in version.content.messages[0].template
    assert window.reporter.last_dialog is None  # no error, no crash dialog
    assert editor.commit_bar.button.text() == "Commit"
    assert window.writer.busy == ""
    assert not progress.isVisible()
    print(f"\nlongest GUI gap {max(gaps) * 1000:.0f} ms over {len(gaps)} ticks")


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
