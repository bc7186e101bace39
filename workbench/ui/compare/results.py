"""The tabs below the Compare grid: the summary table (one sortable row per version x
model), the charts, the selected cell's details and the diff of two selected cells'
outputs."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTabWidget

from workbench.core.errors import WorkbenchError
from workbench.core.models import PromptVersion
from workbench.core.runs import CellResult, TestCase
from workbench.core.templating import render_messages
from workbench.ui.cell_detail import CellDetail, OutputDiffView
from workbench.ui.cell_view import FrozenColumnsTable
from workbench.ui.charts import ChartsPanel
from workbench.ui.grid import SORT_ROLE, SummaryModel


class ResultsTabs(QTabWidget):
    """Summary, Charts, Cell and "Diff two cells", filled from the grid's cells."""

    def __init__(self) -> None:
        super().__init__()
        self.setDocumentMode(True)
        self.summary_model = SummaryModel()
        self.summary_proxy = QSortFilterProxyModel(self)
        self.summary_proxy.setSourceModel(self.summary_model)
        self.summary_proxy.setSortRole(SORT_ROLE)
        self.summary = FrozenColumnsTable(SummaryModel.KEY_COLUMNS)
        self.summary.setObjectName("summaryTable")
        self.summary.setModel(self.summary_proxy)
        self.summary.setSortingEnabled(True)
        self.summary.verticalHeader().hide()
        self.summary.setAlternatingRowColors(True)
        self.summary.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.summary.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.summary.horizontalHeader().setStretchLastSection(False)
        self.summary.horizontalHeader().setSortIndicatorShown(True)
        self.summary.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the model's own order
        self.charts = ChartsPanel()
        self.cell_view = CellDetail()
        self.cell_diff = OutputDiffView()
        self.addTab(self.summary, "Summary")
        self.addTab(self.charts, "Charts")
        self.addTab(self.cell_view, "Cell")
        self.addTab(self.cell_diff, "Diff two cells")

    def clear_results(self) -> None:
        """Show no run's results (the tabs stay)."""
        self.summary_model.set_cells([], {})
        self.charts.set_cells([], {})
        self.cell_view.clear()
        self.cell_diff.clear()

    def show_cells(
        self, cells: Sequence[CellResult], labels: Mapping[uuid.UUID, str], partial: str
    ) -> None:
        """The summary and charts of a run's cells (``partial``: why some are missing)."""
        self.summary_model.set_cells(cells, labels)
        self.charts.set_cells(cells, labels, partial)

    def show_cell(
        self, name: str, cell: CellResult, case: TestCase | None, version: PromptVersion | None
    ) -> None:
        """One cell's details, with the messages its call sent."""
        messages: list[dict[str, str]] = [dict(m) for m in cell.rendered]
        note = ""
        if not messages:
            messages, note = rendered_again(case, version)
        self.cell_view.show_cell(name, cell, case, messages, note)

    def show_diff(self, a: CellResult, b: CellResult, name_a: str, name_b: str) -> None:
        """The two cells' outputs (or errors) side by side, on the Diff tab."""
        self.cell_diff.show_outputs(
            a.output if a.ok else f"error: {a.error}",
            b.output if b.ok else f"error: {b.error}",
            name_a,
            name_b,
        )
        self.setCurrentWidget(self.cell_diff)


def rendered_again(
    case: TestCase | None, version: PromptVersion | None
) -> tuple[list[dict[str, str]], str]:
    """The messages a cell's call sent, when the cell did not record them: rendered
    again from its version with the engine's own function; and a note saying so."""
    if version is None or case is None:
        return [], "Not recorded with this cell, and its version is not loaded."
    try:
        rendered = render_messages(version.content, case.values)
    except WorkbenchError as exc:
        return [], f"The prompt does not render for this case: {exc}"
    note = "Rendered again from the version (the cell did not record them)."
    return [m.model_dump() for m in rendered], note
