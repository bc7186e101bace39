"""Compare against the local provider server: readouts, errors, cancel, reopen offline."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from tests.gui.conftest import engine_warm, two_versions
from tests.providerserver.server import ProviderServer
from workbench.core.runs import TestCase
from workbench.ui.grid import CELL_ROLE, SummaryModel
from workbench.vault import Vault
from workbench.vault.runs import RunStore

pytestmark = pytest.mark.gui

CASES = [
    TestCase(name="refund", values={"question": "Where is my refund?"}),
    TestCase(name="login", values={"question": "I cannot log in to my account"}),
    TestCase(name="hours", values={"question": "When are you open?"}),
]


def _open(window, vault: Vault, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    two_versions(vault)
    vault.set_test_cases("support/reply", CASES)
    window.browser.reload()
    window.browser.select("support/reply")


def test_two_by_two_by_three_run_fills_the_grid(
    qtbot, window, vault, data_dir, server: ProviderServer, capsys
) -> None:  # type: ignore[no-untyped-def]
    server.script("test-model", ttft=0.02, chunks=3, input_tokens=11, output_tokens=7)
    server.script("test-model-2", ttft=0.01, chunks=2)
    _open(window, vault, data_dir)
    compare = window.compare
    spec = compare.build_spec()
    assert len(spec.version_ids) == 2 and len(spec.models) == 2 and len(spec.cases) == 3
    engine_warm(qtbot, window)
    with qtbot.waitSignal(compare.run_finished, timeout=20_000) as done:
        window.run_compare()
    run = done.args[0]
    assert run.status == "finished" and len(run.cells) == 12
    grid = compare.grid_model
    assert grid.rowCount() == 4 and grid.columnCount() == 5  # + totals row and column
    v2 = vault.history("support/reply")[-1]
    col = next(
        i
        for i, c in enumerate(grid.columns)
        if c.version_id == v2.id and c.model.model == "test-model"
    )
    cell = grid.index(1, col).data(CELL_ROLE)
    assert cell.ok and cell.output.endswith("I cannot log in to my account")
    assert (cell.input_tokens, cell.output_tokens) == (11, 7)
    assert (
        cell.ttft_ms is not None and cell.latency_ms is not None and cell.latency_ms >= cell.ttft_ms
    )
    assert cell.finish_reason == "stop"
    text = grid.index(1, col).data()
    assert "TTFT" in text and "11→7 tok" in text and "stop" in text
    total_col = grid.index(3, col).data()  # the column-total row
    assert total_col.startswith("3 calls") and "33→21 tok" in total_col
    assert grid.index(1, 4).data().startswith("4 calls")  # the row-total column
    assert compare.progress.value() == 12
    assert "12 of 12 cells" in compare.status.text()
    summary_model = compare.results.summary_model
    assert summary_model.rowCount() == 4
    summary = {
        (summary_model.index(r, 0).data(), summary_model.index(r, 1).data()):
        summary_model.index(r, SummaryModel.HEADERS.index("Calls")).data() for r in range(4)
    }  # fmt: skip
    assert set(summary.values()) == {"3"}
    # Export and reopen offline.
    out = data_dir / "grid.json"
    compare.tools.export_grid(out)
    assert out.read_text().count('"model"') == 12
    # The same CSV as `workbench runs show --csv` of this run: one schema, one row a cell.
    csv_out = data_dir / "grid.csv"
    compare.tools.export_grid(csv_out)
    from workbench.app.export import CELL_FIELDS
    from workbench.cli.main import main

    capsys.readouterr()
    assert main(["runs", "show", str(run.id), "--csv", "--vault", str(vault.path)]) == 0
    printed = capsys.readouterr().out
    window_rows = list(csv.DictReader(io.StringIO(csv_out.read_text())))
    cli_rows = list(csv.DictReader(io.StringIO(printed)))
    assert tuple(window_rows[0]) == tuple(cli_rows[0]) == CELL_FIELDS
    key = ("version_id", "model", "case", "repeat")
    by_key = {tuple(r[k] for k in key): r for r in cli_rows}
    assert len(window_rows) == len(cli_rows) == 12
    for row in window_rows:  # same cells, same figures (the version label is each side's)
        other = by_key[tuple(row[k] for k in key)]
        assert {k: v for k, v in row.items() if k != "version"} == {
            k: v for k, v in other.items() if k != "version"
        }
    server.clear_requests()
    window.runs.reload()
    assert window.runs.model.rowCount() == 1
    reopened = window.open_run(run.id)
    assert reopened is not None and len(reopened.cells) == 12
    assert server.requests == []  # offline: no model called
    assert grid.index(1, col).data(CELL_ROLE).output == cell.output
    assert "no model was called" in compare.status.text()


def test_nonexistent_model_gives_a_cell_error(qtbot, window, vault, data_dir) -> None:  # type: ignore[no-untyped-def]
    _open(window, vault, data_dir)
    compare = window.compare
    compare.setup.model_entry.setText("local:nonexistent-model")
    compare.setup.add_model_button.click()
    compare.check_only(models=["local:nonexistent-model"])
    engine_warm(qtbot, window)
    with qtbot.waitSignal(compare.run_finished, timeout=20_000) as done:
        compare.start_run()
    cells = done.args[0].cells
    assert len(cells) == 6 and all(not c.ok for c in cells)
    text = compare.grid_model.index(0, 0).data()
    assert text.startswith("error") and "nonexistent-model" in text
    errors = SummaryModel.HEADERS.index("Errors")
    assert compare.results.summary_model.headerData(errors, Qt.Orientation.Horizontal) == "Errors"
    assert compare.results.summary_model.index(0, errors).data() in ("2", "3")


def test_cancel_keeps_finished_cells(
    qtbot, window, vault, data_dir, server: ProviderServer
) -> None:  # type: ignore[no-untyped-def]
    server.script("test-model", ttft=0.0, chunks=1)
    server.script("test-model-2", ttft=30.0, chunks=1)  # would take 30 s: cancelled first
    _open(window, vault, data_dir)
    compare = window.compare
    engine_warm(qtbot, window)
    with qtbot.waitSignal(compare.controller.batch, timeout=10_000):
        compare.start_run()
    qtbot.waitUntil(lambda: len(compare.grid_model.cells) >= 6, timeout=10_000)
    with qtbot.waitSignal(compare.run_finished, timeout=10_000) as done:
        compare.setup.cancel_button.click()
    run = done.args[0]
    assert run.status == "cancelled"
    stored = RunStore(vault).load(run.id)
    assert stored.status == "cancelled"
    assert len(stored.cells) == len(run.cells) >= 6
    assert all(c.key.model.model == "test-model" for c in stored.cells)
    assert compare.status.text().startswith("Cancelled")


def test_closing_the_window_mid_run_cancels_and_keeps_cells(
    qtbot, window, vault, data_dir, server
) -> None:  # type: ignore[no-untyped-def]
    server.script("test-model", ttft=0.0, chunks=1)
    server.script("test-model-2", ttft=30.0, chunks=1)
    _open(window, vault, data_dir)
    engine_warm(qtbot, window)
    window.compare.start_run()
    qtbot.waitUntil(lambda: len(window.compare.grid_model.cells) >= 6, timeout=10_000)
    window.close()
    assert not window.controller.running
    runs = RunStore(vault).list_runs("support/reply")
    assert runs[0].status == "cancelled"
    assert len(RunStore(vault).load(runs[0].id).cells) >= 6


def test_budget_refuses_a_run_before_it_starts(  # type: ignore[no-untyped-def]
    qtbot, window, vault: Vault, data_dir: Path, server: ProviderServer
) -> None:
    from workbench.settings import Budgets

    _open(window, vault, data_dir)
    server.script("gpt-4o", input_tokens=100_000, output_tokens=1_000)
    window.settings = window.settings.model_copy(update={"budgets": Budgets(per_run_usd=0.0001)})
    reported: list[BaseException] = []
    window.reporter.report = lambda exc, what="": reported.append(exc)  # type: ignore[method-assign]
    window.compare.check_only(models=["local:gpt-4o"])
    window.compare.start_run()
    assert reported
    assert "over its cap" in str(reported[0])
    assert not window.controller.running
    assert server.requests == []


def test_the_pre_run_line_says_when_a_profile_lowers_the_concurrency(  # type: ignore[no-untyped-def]
    qtbot, window, vault, data_dir, profiles
) -> None:
    """What `compare`'s header says in the terminal, Compare says before Run."""
    profiles["local"] = profiles["local"].model_copy(update={"concurrency": 2})
    _open(window, vault, data_dir)
    compare = window.compare
    compare.show_estimate()
    text = compare.status.text()
    assert f"{compare.concurrency()} requested, 2 allowed by profile local" in text
