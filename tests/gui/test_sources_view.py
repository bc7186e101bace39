"""File → Data sources…: a person adds a CSV source, tests it (row count, columns, a
sensitive field masked), opens it to one more prompt (a new version), sees a bad one
refused in words, and removes it; the vault holds what the CLI would have made."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QLabel, QMenu, QTableWidget

from tests.gui.people import button, click, field, type_into
from workbench.ui.main_window import MainWindow
from workbench.ui.sources_view import SourcesDialog
from workbench.vault import Vault
from workbench.vault.sources import SourceStore


def _menu_action(win: MainWindow, menu_title: str, text: str) -> None:
    for action in win.menuBar().actions():
        if action.text().replace("&", "") == menu_title:
            menu = action.menu()
            assert isinstance(menu, QMenu)
            for item in menu.actions():
                if item.text().replace("&", "") == text:
                    item.trigger()
                    return
    raise AssertionError(f"no {menu_title} → {text}")


def _label(root: SourcesDialog, name: str) -> QLabel:
    found = [w for w in root.findChildren(QLabel) if w.accessibleName() == name]
    assert len(found) == 1
    return found[0]


def _table(root: SourcesDialog, name: str) -> QTableWidget:
    found = [w for w in root.findChildren(QTableWidget) if w.accessibleName() == name]
    assert len(found) == 1
    return found[0]


def _choose(root: SourcesDialog, label: str, text: str) -> None:
    combo = field(root, label)
    assert isinstance(combo, QComboBox)
    index = combo.findText(text)
    assert index >= 0, f"{text!r} is not offered in {label}"
    combo.setFocus()
    while combo.currentIndex() != index:  # as a person does with the arrow keys
        key = Qt.Key.Key_Down if combo.currentIndex() < index else Qt.Key.Key_Up
        QTest.keyClick(combo, key)


def test_add_test_edit_and_remove_a_source(
    qtbot, window: MainWindow, vault: Vault, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "plans.csv"
    data.write_text("id,plan,email\n1,gold,ada@example.com\n2,free,bob@example.com\n")
    _menu_action(window, "File", "Data sources…")
    dialog = window.sources_dialog
    assert isinstance(dialog, SourcesDialog)
    qtbot.waitUntil(dialog.isVisible)
    sources = _table(dialog, "Data sources")
    assert sources.rowCount() == 0

    type_into(dialog, "Name", "plans")
    _choose(dialog, "Kind", "csv")
    type_into(dialog, "Path", str(data))
    type_into(dialog, "Allowed prompts", "support/")
    type_into(dialog, "Sensitive fields", "email")
    click(dialog, "Save")
    assert "Saved plans v1." in _label(dialog, "Status").text()
    assert [sources.item(0, c).text() for c in (0, 1, 2, 3)] == ["plans", "v1", "csv", "support/"]  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: sources.horizontalScrollBar().maximum() == 0)  # all columns in view

    click(dialog, "Test")
    result = _label(dialog, "Test result")
    qtbot.waitUntil(lambda: "row" in result.text() and "Reading" not in result.text())
    assert result.text() == "plans v1: 2 rows · columns: id, plan, email"
    rows = _table(dialog, "Rows read")
    shown = [[rows.item(r, c).text() for c in range(3)] for r in range(rows.rowCount())]  # type: ignore[union-attr]
    assert shown == [["1", "gold", "••••••"], ["2", "free", "••••••"]]

    type_into(dialog, "Allowed prompts", "support/, sales/pitch")
    click(dialog, "Save")
    assert "Saved plans v2." in _label(dialog, "Status").text()

    click(dialog, "New source")
    type_into(dialog, "Name", "crm")
    _choose(dialog, "Kind", "sql")
    type_into(dialog, "URL", "postgresql://u:hunter2x@db/crm")
    field(dialog, "Query").setFocus()
    QTest.keyClicks(field(dialog, "Query"), "SELECT 1")
    click(dialog, "Save")
    status = _label(dialog, "Status").text()
    assert status.startswith("Not saved: invalid data source") and "holds a password" in status
    assert "hunter2x" not in status

    store = SourceStore(vault)
    assert [v.number for v in store.versions("plans")] == [1, 2]
    assert store.get("plans").access.prompts == ("sales/pitch", "support/")
    resolved = [e for e in vault.audit_events() if e.action == "source.resolve"]
    assert len(resolved) == 1 and resolved[0].detail["rows"] == 2

    sources.selectRow(0)
    assert button(dialog, "Remove").isEnabled()
    click(dialog, "Remove")
    assert "Removed plans" in _label(dialog, "Status").text()
    assert sources.rowCount() == 0 and store.get("plans").removed
    click(dialog, "Close")  # the way out a person looks for (every change is saved)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    QApplication.processEvents()


def test_a_bound_variable_is_no_test_case_column_and_survives_an_edit(
    qtbot, window: MainWindow, vault: Vault, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from tests.gui.people import click_tab
    from workbench.app.sources import prepare_commit
    from workbench.core.models import Binding, Message, PromptContent, Variable
    from workbench.core.sources import SourceAccess, SourceDefinition

    data = tmp_path / "plans.csv"
    data.write_text("id,plan\n1,gold\n")
    SourceStore(vault).add(
        "plans", SourceDefinition(kind="csv", path=str(data)), SourceAccess(prompts=("support/",))
    )
    content = PromptContent(
        messages=(Message(role="user", template="{{ plan }}"),),
        variables=(
            Variable(name="plan", binding=Binding(source="plans", field="plan")),
            Variable(name="question"),
        ),
    )
    vault.commit("support/bound", prepare_commit(vault, "support/bound", content, "author"), "1")
    window.browser.reload()
    window.browser.select("support/bound")
    click_tab(window, "Test cases")
    assert window.testcases.model.variables == []  # plan comes from the source
    # An edit in the editor keeps the binding (and its pin) in the next commit.
    click_tab(window, "Editor")
    editor = window.editor
    qtbot.waitUntil(lambda: editor.variables.rowCount() == 1)
    editor.message_editors[0].text.setPlainText("Plan: {{ plan }}.")
    editor.refresh()
    qtbot.waitUntil(lambda: not editor.preview.pending)
    assert "Plan: [plans.plan]." in editor.preview.text.toPlainText(), (
        editor.preview.text.toPlainText()
    )
    qtbot.keyClicks(editor.commit_bar.message, "reworded")
    editor.refresh()
    with qtbot.waitSignal(editor.committed, timeout=5_000) as committed:
        editor.commit()
    bound = {v.name: v.binding for v in committed.args[0].content.variables}
    assert bound["plan"] is not None and bound["plan"].source == "plans"
    assert bound["plan"].pin == SourceStore(vault).get("plans").definition_hash
