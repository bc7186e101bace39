"""Every Qt item model of the window passes pytest-qt's qtmodeltester, filled with real data;
test-case import from CSV / JSON / YAML; an unexpected error gets a redacted report."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from tests.gui.conftest import engine_warm, two_versions
from workbench.core.errors import InputError
from workbench.secrets.redaction import register_secret
from workbench.ui.errors import CrashDialog

pytestmark = pytest.mark.gui


def test_item_models_pass_the_model_tester(qtbot, qtmodeltester, window, vault, data_dir) -> None:  # type: ignore[no-untyped-def]
    two_versions(vault, "support/reply")
    two_versions(vault, "billing/invoice")
    window.browser.reload()
    window.browser.select("support/reply")
    (data_dir / "cases.csv").write_text("name,question\nshort,Hi?\nlong,Where is my order?\n")
    assert window.testcases.import_file(data_dir / "cases.csv") == 2
    compare = window.compare
    compare.check_only(models=["echo:echo"])
    engine_warm(qtbot, window)
    with qtbot.waitSignal(compare.run_finished, timeout=20_000):
        compare.start_run()
    window.runs.reload()
    for model in (
        window.browser.model,
        window.history.model,
        window.testcases.model,
        compare.grid_model,
        compare.results.summary_model,
        window.runs.model,
        window.editor.variables.model(),
    ):
        assert model.rowCount() > 0, type(model).__name__
        qtmodeltester.check(model, force_py=True)
    # echo is labelled as not a real model wherever its numbers appear.
    assert "not a real model" in compare.grid_model.headerData(0, Qt.Orientation.Horizontal)
    assert "not a real model" in compare.results.summary_model.index(0, 1).data()


def test_import_cases_from_json_and_yaml_and_bad_files(window, vault, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    two_versions(vault)
    window.browser.reload()
    window.browser.select("support/reply")
    (data_dir / "c.json").write_text('{"cases": [{"name": "a", "values": {"question": "Q1"}}]}')
    (data_dir / "c.yaml").write_text("- name: b\n  question: Q2\n- question: Q3\n")
    assert window.testcases.import_file(data_dir / "c.json") == 1
    assert window.testcases.import_file(data_dir / "c.yaml") == 2
    model = window.testcases.model
    assert [model.index(r, 0).data() for r in range(3)] == ["a", "b", "case 2"]
    assert model.index(2, 1).data() == "Q3"
    assert window.editor.preview.case_combo.count() == 4  # defaults + 3 cases
    (data_dir / "bad.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="not a mapping of variable values"):
        window.testcases.import_file(data_dir / "bad.json")
    assert model.rowCount() == 3  # nothing half-imported
    assert [c.name for c in vault.test_cases("support/reply")] == ["a", "b", "case 2"]


def test_unexpected_error_report_is_redacted(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    secret = "sk-live-" + "abcdefghijklmnopqrstuvwxyz123456"  # split: no key-shaped literal
    register_secret(secret)
    try:
        raise RuntimeError(f"boom with {secret}")
    except RuntimeError as exc:
        with qtbot.waitSignal(window.reporter.shown):
            window.reporter.report(exc)
    dialog = window.reporter.last_dialog
    assert isinstance(dialog, CrashDialog)
    report = dialog.report.toPlainText()
    assert "RuntimeError" in report and secret not in report
    dialog.close()
    assert window.isEnabled()


def test_assertions_column_edits_round_trip(window, vault) -> None:  # type: ignore[no-untyped-def]
    two_versions(vault)
    window.browser.reload()
    window.browser.select("support/reply")
    model = window.testcases.model
    model.add_case()
    col = model.columnCount() - 1
    assert model.headerData(col, Qt.Orientation.Horizontal) == "Assertions"
    index = model.index(0, col)
    assert model.setData(index, "contains: refund; max_chars: 300; json")
    assert model.index(0, col).data() == "contains: refund; max_chars: 300; json"
    stored = vault.test_cases("support/reply")[0].assertions
    assert [a.type for a in stored] == ["contains", "max_chars", "json"]
    reported: list[object] = []
    window.reporter.report = lambda exc, what="": reported.append(exc)  # type: ignore[method-assign]
    assert not model.setData(index, "shouts: loudly")
    assert reported
    assert [a.type for a in vault.test_cases("support/reply")[0].assertions] == [
        "contains",
        "max_chars",
        "json",
    ]
