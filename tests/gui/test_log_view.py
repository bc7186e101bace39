"""The Log tab: every model call newest first, filters a person types, the selected
call's answer and variables, and an export that matches `workbench log --jsonl`."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt

from tests.gui.conftest import engine_warm, two_versions
from tests.gui.people import click, click_at, click_tab
from workbench.core.runs import TestCase
from workbench.vault import Vault

KEY_SHAPED = "sk-proj-" + "abcdefghijklmnopqrstuvwxyz0123"  # split: no key-shaped literal


def test_log_tab_from_empty_to_filtered_and_exported(
    qtbot, window, vault: Vault, data_dir: Path, server, capsys
) -> None:  # type: ignore[no-untyped-def]
    click_tab(window, "Log")
    log = window.log_panel
    assert log.model.rowCount() == 0
    assert "No model calls yet" in log.status.text()
    assert not log.export_button.isEnabled() and not log.more_button.isEnabled()

    two_versions(vault)
    vault.set_test_cases(
        "support/reply",
        [TestCase(name="refund", values={"question": "Refund?"}),
         TestCase(name="secret", values={"question": KEY_SHAPED})],
    )  # fmt: skip
    window.browser.reload()
    window.browser.select("support/reply")
    engine_warm(qtbot, window)
    with qtbot.waitSignal(window.compare.run_finished, timeout=20_000):
        window.run_compare()  # 2 versions x 2 models x 2 cases
    click_tab(window, "Log")
    assert log.model.rowCount() == 8
    assert "8 calls shown, newest first" in log.status.text()
    headers = [log.model.headerData(c, Qt.Orientation.Horizontal) for c in range(10)]
    assert headers[:4] == ["When", "Prompt", "Version", "Model"]

    # A person types a model and presses Enter; then ticks Errors only.
    qtbot.keyClicks(log.model_filter, "local:test-model-2")
    qtbot.keyClick(log.model_filter, Qt.Key.Key_Return)
    assert log.model.rowCount() == 4
    assert {log.model.index(r, 3).data() for r in range(4)} == {"local:test-model-2"}
    secret = next(r for r in range(4) if log.model.index(r, 4).data() == "secret")
    click_at(log.table, log.model.index(secret, 0))
    detail = log.detail.toPlainText()
    assert "support/reply" in detail and "case secret" in detail
    shown = next(line for line in detail.splitlines() if line.startswith("variables:"))
    assert KEY_SHAPED not in shown  # variables redacted on screen too (the answer is the
    # echoing test server's, kept as answered: outputs lose only known secrets)
    log.errors_only.click()
    assert log.model.rowCount() == 0 and "No call matches" in log.status.text()
    log.errors_only.click()

    out = log.export_jsonl(data_dir / "log.jsonl")
    assert out is not None
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(exported) == 4
    assert not any(KEY_SHAPED in json.dumps(r["variables"]) for r in exported)
    from workbench.cli.main import main

    capsys.readouterr()
    assert (
        main(["log", "--model", "local:test-model-2", "--jsonl", "--vault", str(vault.path)]) == 0
    )
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == exported
    click(log, "Refresh")
    assert log.model.rowCount() == 4


def test_spending_page_groups_charts_and_exports(
    qtbot, window, vault: Vault, data_dir: Path, server, capsys
) -> None:  # type: ignore[no-untyped-def]
    click_tab(window, "Log")
    click_tab(window, "Spending")
    spending = window.spending
    assert spending.model.rowCount() == 0
    assert "Nothing spent yet" in spending.status.text()
    assert not spending.csv_button.isEnabled() and not spending.png_button.isEnabled()

    server.script("test-model", input_tokens=40, output_tokens=10)
    two_versions(vault)
    vault.set_test_cases("support/reply", [TestCase(name="refund", values={"question": "Hi?"})])
    window.browser.reload()
    window.browser.select("support/reply")
    engine_warm(qtbot, window)
    with qtbot.waitSignal(window.compare.run_finished, timeout=20_000):
        window.run_compare()
    click_tab(window, "Log")  # Spending is still the page shown in it: read again
    assert spending.by.currentText() == "model"
    groups = {spending.model.index(r, 0).data(): r for r in range(spending.model.rowCount())}
    assert set(groups) == {"local:test-model", "local:test-model-2"}
    # test-model has no price: its cost is said as unknown, never $0.
    r = groups["local:test-model"]
    assert spending.model.index(r, 4).data() == "unknown"
    assert not spending.chart.pixmap().isNull()
    assert spending.chart.pixmap().width() <= spending.chart_area.viewport().width()

    spending.by.setCurrentText("day")
    assert spending.model.rowCount() == 1
    csv_path = spending.export_csv(data_dir / "spending.csv")
    png_path = spending.export_png(data_dir / "spending.png")
    assert csv_path is not None and png_path is not None
    assert csv_path.read_text().splitlines()[0].startswith("day,calls,errors")
    assert png_path.read_bytes()[:4] == b"\x89PNG"
    from workbench.cli.main import main

    capsys.readouterr()
    assert main(["costs", "--by", "day", "--json", "--vault", str(vault.path)]) == 0
    cli = json.loads(capsys.readouterr().out)["groups"][0]
    row = csv_path.read_text().splitlines()[1].split(",")
    assert int(row[1]) == cli["calls"] and int(row[7]) == cli["unpriced_calls"]


def test_a_rubric_grading_call_is_a_row_of_its_own(qtbot, window, vault: Vault) -> None:  # type: ignore[no-untyped-def]
    from workbench.core.assertions import Assertion

    two_versions(vault)
    # The echo provider is priced (free): it is called, and answers no grade.
    rubric = Assertion(type="rubric", value="polite", model="echo:echo")
    vault.set_test_cases(
        "support/reply", [TestCase(name="refund", values={"question": "Refund?"},
                                   assertions=(rubric,))],
    )  # fmt: skip
    window.browser.reload()
    window.browser.select("support/reply")
    engine_warm(qtbot, window)
    with qtbot.waitSignal(window.compare.run_finished, timeout=20_000):
        window.run_compare()  # 2 versions x 2 models x 1 case, each graded once
    click_tab(window, "Log")
    log = window.log_panel
    results = [log.model.index(r, 9).data() for r in range(log.model.rowCount())]
    assert len(results) == 8
    assert results.count("rubric grader: ok") == 4
    # the graded cells answered, but an answer the grader could not score does not pass
    assert results.count("answered, checks failed 0/1") == 4
