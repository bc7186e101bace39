"""The list of past runs; opening one shows its grid and charts from the vault."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from workbench.core.money import format_total
from workbench.ui.table_model import ALIGN_RIGHT, RowsTableModel, setup_row_table
from workbench.vault import Vault
from workbench.vault.runs import RunListing, RunStore


class RunsModel(RowsTableModel[RunListing]):
    HEADERS = ("Started", "Prompt", "Status", "Cells", "Cost")

    def cell_data(self, row: RunListing, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= 3:
            return ALIGN_RIGHT
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"run {row.id}"
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        values = (
            f"{row.started_at.astimezone():%Y-%m-%d %H:%M:%S}",
            row.prompt,
            row.status,
            row.cells_text,
            format_total(row.cost),  # the one money rule, as the CLI's runs list
        )
        return values[column]


class RunsPanel(QWidget):
    open_requested = Signal(object)  # run id

    def __init__(self, vault: Vault) -> None:
        super().__init__()
        self.store = RunStore(vault)
        self.prompt: str | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.model = RunsModel()
        self.table = QTableView()
        self.table.setObjectName("runsTable")
        self.table.setModel(self.model)
        setup_row_table(
            self.table, stretch_column=1, selection=QAbstractItemView.SelectionMode.SingleSelection
        )
        self.table.doubleClicked.connect(self._open)
        layout.addWidget(self.table, 1)
        bar = QHBoxLayout()
        hint = QLabel("Open a run to see its grid and charts again, straight from the vault.")
        hint.setObjectName("dimLabel")
        self.open_button = QPushButton("Open run")
        self.open_button.clicked.connect(self._open)
        bar.addWidget(hint, 1)
        bar.addWidget(self.open_button)
        layout.addLayout(bar)

    def set_prompt(self, name: str | None) -> None:
        self.prompt = name
        self.reload()

    def reload(self) -> None:
        self.model.set_rows(self.store.list_runs(self.prompt, limit=200))

    @Slot()
    def _open(self, *_args: object) -> None:
        run = self.model.row_at(self.table.currentIndex())
        if run is not None:
            self.open_requested.emit(run.id)
