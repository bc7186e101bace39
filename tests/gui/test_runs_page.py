"""The Runs page, read as a person reads it: cells held and cost by the one money rule
(issue 11: a total is a number only when every call is priced)."""

from __future__ import annotations

import uuid

from PySide6.QtCore import Qt

from tests.gui.people import click_tab
from workbench.core.models import Message, PromptContent
from workbench.core.runs import CellKey, CellResult, ModelRef, Run, RunSpec, TestCase
from workbench.vault.runs import RunStore

MODEL = ModelRef(profile="local", model="m")


def _run(window, cells: list[CellResult | None], text: str) -> Run:  # type: ignore[no-untyped-def]
    vault = window.vault
    version = vault.commit(
        "runs/page", PromptContent(messages=(Message(role="user", template=text),)), "v"
    )
    cases = tuple(TestCase(name=f"c{i}") for i in range(len(cells)))
    run = Run(
        spec=RunSpec(prompt="runs/page", version_ids=(version.id,), models=(MODEL,), cases=cases)
    )
    store = RunStore(vault)
    store.start(run)
    key = CellKey(version_id=version.id, model=MODEL, case_index=0)
    stored = [
        c.model_copy(update={"key": key.model_copy(update={"case_index": i})})
        for i, c in enumerate(cells)
        if c is not None
    ]
    store.add_cells(run.id, stored)
    store.finish(run.id, "finished")
    return run


def _row_texts(window) -> list[list[str]]:  # type: ignore[no-untyped-def]
    model = window.runs.model
    return [
        [model.index(r, c).data(Qt.ItemDataRole.DisplayRole) for c in range(model.columnCount())]
        for r in range(model.rowCount())
    ]


def test_a_run_with_unpriced_calls_never_reads_as_free(window, qtbot) -> None:  # type: ignore[no-untyped-def]
    key = CellKey(version_id=uuid.uuid4(), model=MODEL, case_index=0)
    unpriced = CellResult(key=key, output="a", cost_usd=None)
    priced = CellResult(key=key, output="b", cost_usd=0.02)
    _run(window, [unpriced, unpriced], "one")  # nothing priced
    _run(window, [priced, unpriced, None], "two")  # one priced, one not, one never stored
    click_tab(window, "Runs")
    window.runs.reload()
    rows = _row_texts(window)
    costs = sorted(r[4] for r in rows)
    assert costs == ["unknown", "≥ $0.02, 1 call unpriced"]
    assert sorted(r[3] for r in rows) == ["2", "2 of 3"]
