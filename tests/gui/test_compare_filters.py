"""Compare as a comparison tool: "Differences only" hides the test cases where every
cell gave the same answer, "Group by model" puts each model's versions side by side;
both driven with QTest clicks and keys on the visible controls, and both remembered."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox

from tests.gui.conftest import engine_warm, two_versions
from tests.gui.people import button, click_tab, tick
from tests.providerserver.server import ProviderServer
from workbench.core.runs import TestCase
from workbench.ui.main_window import MainWindow
from workbench.vault import Vault

pytestmark = pytest.mark.gui

CASES = [
    TestCase(name="same", values={"question": "fixed answer"}),
    TestCase(name="refund", values={"question": "Where is my refund?"}),
    TestCase(name="hours", values={"question": "When are you open?"}),
]


def _open(qtbot, window: MainWindow, vault: Vault) -> list[str]:  # type: ignore[no-untyped-def]
    two_versions(vault)
    vault.set_test_cases("support/reply", CASES)
    window.resize(1440, 900)
    window.browser.reload()
    window.browser.select("support/reply")
    click_tab(window, "Compare")
    QApplication.processEvents()
    return [window.compare.labels[v.id] for v in vault.history("support/reply")]


def _run(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    compare = window.compare
    engine_warm(qtbot, window)
    with qtbot.waitSignal(compare.run_finished, timeout=20_000):
        QTest.mouseClick(button(window, "Run comparison"), Qt.MouseButton.LeftButton)
    QApplication.processEvents()


def _hidden(window: MainWindow) -> set[str]:
    model, grid = window.compare.grid_model, window.compare.grid
    return {model.rows[r].title for r in range(len(model.rows)) if grid.isRowHidden(r)}


def test_differences_only_hides_cases_every_cell_answered_alike(
    qtbot, window: MainWindow, vault: Vault, server: ProviderServer
) -> None:  # type: ignore[no-untyped-def]
    # test-model echoes the question; test-model-2 always says "fixed answer": the two
    # agree only on the case whose question is "fixed answer".
    server.script("test-model-2", text="fixed  answer\n")
    v1, v2 = _open(qtbot, window, vault)
    compare = window.compare
    tick(compare.setup.versions_list, v2, on=False)
    tick(compare.setup.versions_list, v1)
    tick(compare.setup.models_list, "local:test-model")
    tick(compare.setup.models_list, "local:test-model-2")
    _run(qtbot, window)
    assert _hidden(window) == set()

    QTest.mouseClick(button(window, "Differences only"), Qt.MouseButton.LeftButton)
    assert _hidden(window) == {"same"}  # whitespace runs count as one space
    assert compare.tools.filter_note.text() == "1 of 3 test cases hidden"
    assert compare.tools.filter_note.isVisible()

    # With "Failures only" too (nothing fails here): every case is hidden, and it says so.
    QTest.mouseClick(button(window, "Failures only"), Qt.MouseButton.LeftButton)
    assert _hidden(window) == {"same", "refund", "hours"}
    assert compare.tools.filter_note.text() == "3 of 3 test cases hidden"
    QTest.mouseClick(button(window, "Failures only"), Qt.MouseButton.LeftButton)
    QTest.mouseClick(button(window, "Differences only"), Qt.MouseButton.LeftButton)
    assert _hidden(window) == set() and compare.tools.filter_note.text() == ""


def test_group_by_model_puts_each_models_versions_side_by_side(
    qtbot, window: MainWindow, vault: Vault, server: ProviderServer
) -> None:  # type: ignore[no-untyped-def]
    v1, v2 = _open(qtbot, window, vault)
    compare = window.compare
    tick(compare.setup.versions_list, v1)
    tick(compare.setup.versions_list, v2)
    tick(compare.setup.models_list, "local:test-model")
    tick(compare.setup.models_list, "local:test-model-2")
    _run(qtbot, window)
    header = compare.grid.horizontalHeader()
    model = compare.grid_model

    def shown() -> list[tuple[str, str]]:
        order = [header.logicalIndex(v) for v in range(len(model.columns))]
        return [(model.columns[c].version_label, model.columns[c].model.model) for c in order]

    assert model.spec is not None
    versions = [compare.labels[v] for v in model.spec.version_ids]
    models = ["test-model", "test-model-2"]
    assert shown() == [(v, m) for v in versions for m in models]  # by version, at first

    combo = next(
        c for c in compare.findChildren(QComboBox) if c.accessibleName() == "Group columns"
    )
    assert combo.isVisible() and combo.currentText() == "Group by version"
    combo.setFocus()
    QTest.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentText() == "Group by model"
    assert shown() == [(v, m) for m in models for v in versions]
    # The totals column stays last; the model (and so exports) keeps the run's order.
    assert header.logicalIndex(len(model.columns)) == len(model.columns)

    # A new run keeps the grouping, and so does the next session (remembered).
    _run(qtbot, window)
    assert shown() == [(v, m) for m in models for v in versions]
    assert '"group_by": "model"' in str(window.qsettings.value("compare/options"))
