"""The list of past runs; opening one shows its grid and charts from the vault."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from workbench.ui.format import fmt_usd
from workbench.vault import Vault
from workbench.vault.runs import RunStore

_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class RunInfo:
    id: uuid.UUID
    prompt: str
    status: str
    started_at: datetime
    total_cells: int
    cost_usd: float | None


class RunsModel(QAbstractTableModel):
    HEADERS = ("Started", "Prompt", "Status", "Cells", "Cost")

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[RunInfo] = []

    def set_runs(self, runs: list[RunInfo]) -> None:
        self.beginResetModel()
        self.runs = list(runs)
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.runs)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal
        if role == Qt.ItemDataRole.DisplayRole and horizontal and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.runs):
            return None
        r = self.runs[index.row()]
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() >= 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"run {r.id}"
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        values = (
            f"{r.started_at.astimezone():%Y-%m-%d %H:%M:%S}",
            r.prompt,
            r.status,
            str(r.total_cells),
            fmt_usd(r.cost_usd),
        )
        return values[index.column()] if 0 <= index.column() < len(values) else None


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
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
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
        rows = self.store.list_runs(self.prompt, limit=200)
        self.model.set_runs(
            [
                RunInfo(
                    uuid.UUID(r.id), r.prompt, r.status, r.started_at, r.total_cells, r.cost_usd
                )
                for r in rows
            ]
        )

    @Slot()
    def _open(self, *_args: object) -> None:
        index = self.table.currentIndex()
        if index.isValid():
            self.open_requested.emit(self.model.runs[index.row()].id)
