"""A person marks a variable sensitive in the editor's variables table; the commit
carries it, and a run of it stores the value masked."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from tests.gui.conftest import engine_warm, two_versions
from tests.gui.people import click, click_tab
from workbench.core.runs import TestCase
from workbench.vault import Vault
from workbench.vault.runs import RunStore


def test_marking_a_variable_sensitive_masks_its_values_in_the_run_log(
    qtbot, window, vault: Vault
) -> None:  # type: ignore[no-untyped-def]
    two_versions(vault)
    secret = "ACCT-99871234"
    vault.set_test_cases("support/reply", [TestCase(name="a", values={"question": secret})])
    window.browser.reload()
    window.browser.select("support/reply")
    click_tab(window, "Editor")
    editor = window.editor
    qtbot.waitUntil(lambda: editor.variables.rowCount() >= 1)
    row = next(r for r in range(editor.variables.rowCount())
               if editor.variables.item(r, 0).text() == "question")  # fmt: skip
    level = editor.variables.cellWidget(row, 5)
    assert isinstance(level, QComboBox) and level.currentText() == "public"
    level.setCurrentText("sensitive")
    qtbot.keyClicks(editor.commit_bar.message, "the question is sensitive")
    editor.refresh()
    with qtbot.waitSignal(editor.committed, timeout=5_000) as committed:
        editor.commit()
    version = committed.args[0]
    assert {v.name: v.sensitivity for v in version.content.variables}["question"] == "sensitive"

    # The Test cases tab masks the value; showing it is an audit event.
    window.browser.select("support/reply")
    click_tab(window, "Test cases")
    cases = window.testcases
    col = cases.model.variables.index("question") + 1
    assert cases.model.index(0, col).data() == "••••••"
    assert "(sensitive)" in cases.model.headerData(col, Qt.Orientation.Horizontal)
    before = len(vault.audit_events())
    click(cases, "Show sensitive values")
    assert cases.model.index(0, col).data() == secret
    events = vault.audit_events()
    assert len(events) == before + 1 and events[-1].action == "test_cases.reveal"
    assert secret not in events[-1].model_dump_json()
    click(cases, "Hide sensitive values")
    assert cases.model.index(0, col).data() == "••••••"

    compare = window.compare
    click_tab(window, "Compare")
    for i in range(compare.setup.versions_list.count()):  # only the new version
        item = compare.setup.versions_list.item(i)
        item.setCheckState(item.checkState().Checked if i == 0 else item.checkState().Unchecked)
    engine_warm(qtbot, window)
    with qtbot.waitSignal(compare.run_finished, timeout=20_000) as done:
        window.run_compare()
    stored = RunStore(vault).load(done.args[0].id)
    assert stored.cells
    for cell in stored.cells:
        assert secret not in cell.model_dump_json()
    assert secret not in stored.spec.model_dump_json()
