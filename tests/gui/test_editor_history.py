"""Create, edit, commit, find in history, diff, restore; drafts survive a restart;
a template syntax error disables Commit and says why."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from tests.gui.conftest import two_versions
from workbench.ui.stores import DraftStore
from workbench.vault import Vault

pytestmark = pytest.mark.gui


def _type_into_first_user_message(window, text: str) -> None:  # type: ignore[no-untyped-def]
    editor = window.editor.message_editors[1].text
    editor.selectAll()
    editor.insertPlainText(text)


def test_create_edit_commit_then_history_and_diff(qtbot, window, vault: Vault) -> None:  # type: ignore[no-untyped-def]
    window.new_prompt("support/refund")
    assert window.browser.current_prompt() == "support/refund"
    editor = window.editor
    assert editor.base is None
    qtbot.keyClicks(editor.commit_bar.message, "first version")
    editor.refresh()
    assert editor.commit_bar.button.isEnabled(), editor.commit_bar.reason.text()
    with qtbot.waitSignal(editor.committed, timeout=5000) as first:
        qtbot.keyClick(editor.commit_bar.message, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert first.args[0].message == "first version"

    # Nothing changed: Commit says why it is disabled.
    editor.refresh()
    assert not editor.commit_bar.button.isEnabled()
    assert "Nothing to commit" in editor.commit_bar.reason.text()

    _type_into_first_user_message(window, "Refund request: {{ question }} (order {{ order_id }})")
    editor.refresh()
    names = [editor.variables.item(r, 0).text() for r in range(editor.variables.rowCount())]
    assert names == ["order_id", "question"]
    assert "order_id" in "".join(names)
    qtbot.keyClicks(editor.commit_bar.message, "ask for the order id")
    editor.refresh()
    with qtbot.waitSignal(editor.committed, timeout=5000):
        editor.commit_bar.button.click()

    history = vault.history("support/refund")
    assert [v.message for v in history] == ["first version", "ask for the order id"]
    panel = window.history
    assert panel.model.rowCount() == 2
    assert panel.model.index(0, 3).data() == "ask for the order id"
    # One version selected: diffed against its parent, with intra-line highlights.
    panel.select_versions([0])
    kinds = [r.kind for r in panel.diff.rows]
    assert "replace" in kinds
    changed = next(r for r in panel.diff.rows if r.kind == "replace")
    assert changed.right is not None and "order_id" in changed.right
    assert changed.right_spans, "the changed characters are highlighted"
    assert "background" in panel.diff.toHtml()
    # Two versions selected: diffed against each other, including the variables.
    panel.select_versions([0, 1])
    headers = [r.left for r in panel.diff.rows if r.kind == "header"]
    assert "variables" in headers


def test_syntax_error_marks_line_and_disables_commit(qtbot, window, vault: Vault) -> None:  # type: ignore[no-untyped-def]
    two_versions(vault)
    window.browser.reload()
    window.browser.select("support/reply")
    editor = window.editor
    assert editor.prompt == "support/reply"
    text = editor.message_editors[1].text
    text.setPlainText("Line one\nCustomer asks: {{ question }\nbye")
    qtbot.keyClicks(editor.commit_bar.message, "broken")
    editor.refresh()
    assert not editor.commit_bar.button.isEnabled()
    reason = editor.commit_bar.reason.text()
    assert "template error" in reason and "line 2" in reason
    problem = editor.message_editors[1].problems
    assert not problem.isHidden()
    assert "Line 2" in problem.text()
    marks = text.extraSelections()
    assert [m.cursor.blockNumber() for m in marks] == [1]
    # Ctrl+S stays live so it can say why nothing was committed.
    window.commit_action.trigger()
    assert "template error" in window.statusBar().currentMessage()
    assert len(vault.history("support/reply")) == 2


def test_draft_survives_restart_and_restore_version(
    qtbot, window, vault: Vault, data_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    first, _second = two_versions(vault)
    window.browser.reload()
    window.browser.select("support/reply")
    editor = window.editor
    editor.message_editors[0].text.setPlainText("You are terse.")
    editor.flush_draft()
    editor.save_draft()
    draft = DraftStore(data_dir / "drafts").load("support/reply")
    assert draft is not None
    assert draft.content.messages[0].template == "You are terse."
    assert window.browser.model.index_of("support/reply").siblingAtColumn(1).data() == "edited"

    # "Restart": a new editor on the same data dir shows the draft with a banner.
    window.editor.set_prompt(None)
    window.editor.set_prompt("support/reply")
    assert editor.message_editors[0].text.toPlainText() == "You are terse."
    assert not editor.header.banner.isHidden()

    # Restore v1 (the first version) as a draft on top of the latest version.
    window.history.select_versions([1])
    with qtbot.waitSignal(window.history.restore_requested):
        window.history.restore_button.click()
    assert editor.message_editors[0].text.toPlainText() == first.messages[0].template
    assert editor.base is not None and editor.base.id == vault.history("support/reply")[-1].id
    qtbot.keyClicks(editor.commit_bar.message, "back to v1")
    editor.refresh()
    with qtbot.waitSignal(editor.committed):
        editor.commit()
    assert vault.history("support/reply")[-1].content.content_hash() == first.content_hash()
    assert DraftStore(data_dir / "drafts").load("support/reply") is None


def test_search_box_uses_full_text_index(qtbot, window, vault: Vault) -> None:  # type: ignore[no-untyped-def]
    two_versions(vault, "support/reply")
    two_versions(vault, "billing/invoice")
    window.browser.reload()
    assert set(window.browser.model.names()) == {"support/reply", "billing/invoice"}
    window.browser.search.setText("friendly")
    qtbot.waitUntil(lambda: window.browser.count_label.text() == "2 matches")
    window.browser.search.setText("invoice")
    qtbot.waitUntil(lambda: window.browser.model.names() == ["billing/invoice"])


def test_samples_import_and_export_round_trip(qtbot, window, vault, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert window.browser.empty_state.buttons["samples"].isVisible()  # the empty vault's hint
    with qtbot.waitSignal(window.bundle_imported, timeout=60_000) as blocker:
        window.load_samples()
    assert blocker.args[0].prompts_created == 6
    assert window.browser.model.rowCount() > 0
    assert len(vault.test_cases("support/reply")) == 3
    out = tmp_path / "export.json"
    window.export_bundle(out)
    from workbench.vault.bundle import parse_bundle

    bundle = parse_bundle(out.read_bytes())
    assert sorted(p.name for p in bundle.prompts) == sorted(vault.prompt_names())
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    reported: list[BaseException] = []
    window.reporter.report = lambda exc, what="": reported.append(exc)  # type: ignore[method-assign]
    window.import_bundle(bad)
    qtbot.waitUntil(lambda: bool(reported), timeout=60_000)
    assert "not valid JSON" in str(reported[0])
