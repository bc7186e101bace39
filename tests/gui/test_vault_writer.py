"""One vault writer in the window: a commit made while a big import runs queues behind
it (the window stays responsive and says so) instead of waiting on SQLite's lock from
the GUI thread and failing with "database is locked" after the busy timeout."""

from __future__ import annotations

import random
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer

from bench.vault_scale import Zipf, make_bundle, vocabulary
from tests.gui.conftest import two_versions
from tests.gui.people import click_tab, text_edit_showing
from workbench.vault import Vault


def test_a_commit_during_a_big_import_waits_its_turn_and_lands(
    qtbot, window, vault: Vault, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    two_versions(vault)
    rng = random.Random(5)
    bundle = make_bundle(500, 10, rng, Zipf(vocabulary(800, rng), rng))  # 5,000 versions
    path = tmp_path / "big.json"
    path.write_text(bundle.model_dump_json(), encoding="utf-8")
    window.browser.reload()
    window.browser.select("support/reply")
    click_tab(window, "Editor")
    editor = window.editor
    qtbot.waitUntil(
        lambda: bool(editor.message_editors) and editor.message_editors[0].text.isVisible()
    )

    # The GUI thread's heartbeat: the longest gap between 20 ms ticks while it waits.
    gaps: list[float] = []
    last = [time.perf_counter()]

    marks: list[tuple[float, str]] = []
    window.bundle_imported.connect(lambda _r: marks.append((time.perf_counter(), "imported")))
    editor.committed.connect(lambda _v: marks.append((time.perf_counter(), "committed")))

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        if now - last[0] > 0.2:
            marks.append((now, f"gap {now - last[0]:.3f}"))
        last[0] = now

    beat = QTimer()
    beat.timeout.connect(tick)
    beat.start(20)

    started = time.perf_counter()
    with qtbot.waitSignal(window.bundle_imported, timeout=120_000) as imported:
        window.import_bundle(path)
        assert window.writer.busy == "importing big.json"
        assert "importing big.json" in window.statusBar().currentMessage()
        # A person edits the open prompt and presses Ctrl+S while the import runs.
        edit = text_edit_showing(window, "You are a friendly support agent. Be brief.")
        edit.setFocus()
        qtbot.keyClick(edit, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClicks(edit, " Sign off with your name.")
        qtbot.keyClicks(editor.commit_message, "sign off")
        editor.refresh()
        with qtbot.assertNotEmitted(editor.committed, wait=0):
            qtbot.keyClick(editor.commit_message, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
        assert editor.commit_button.text() == "Waiting…"
        assert not editor.commit_button.isEnabled()
        assert "as soon as importing big.json is done" in editor.commit_reason.text()
        with qtbot.waitSignal(editor.committed, timeout=120_000) as committed:
            pass
    import_s = time.perf_counter() - started
    beat.stop()
    assert imported.args[0].versions_added == 5_000
    version = committed.args[0]
    assert version.prompt == "support/reply"
    assert vault.history("support/reply")[-1].id == version.id
    assert "Sign off with your name." in version.content.messages[0].template
    assert window.reporter.last_dialog is None  # no error, no crash dialog
    assert editor.commit_button.text() == "Commit"
    assert window.writer.busy == ""
    print([(round(t - started, 3), m) for t, m in marks])
    print(
        f"\nimport + queued commit {import_s:.2f} s; longest GUI gap while waiting "
        f"{max(gaps) * 1000:.0f} ms over {len(gaps)} ticks"
    )
