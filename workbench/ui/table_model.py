"""A flat, read-only Qt table over a list of rows with fixed column titles, and the look
of the views that list such rows.

Several panels show "one object per row, a fixed tuple of columns" (history, past runs,
the run summary). The Qt bookkeeping for that shape (row and column counts, header
titles, bounds checks on every index) lives here once, so a subclass only says what a
cell shows: :meth:`RowsTableModel.cell_data` receives the row object already looked up
and a column known to be in range.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

Index = QModelIndex | QPersistentModelIndex
RowT = TypeVar("RowT")

ALIGN_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
"""Alignment for numeric columns, as Qt's ``TextAlignmentRole`` expects it."""


class RowsTableModel(QAbstractTableModel, Generic[RowT]):
    """A table whose rows are ``self.rows`` and whose columns are ``HEADERS``.

    Subclasses set ``HEADERS`` and override :meth:`cell_data`; :meth:`set_rows` replaces
    the whole list in one model reset (views keep no stale indexes).
    """

    HEADERS: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[RowT] = []

    def set_rows(self, rows: Iterable[RowT]) -> None:
        """Show ``rows`` instead of the current ones."""
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def row_at(self, index: Index) -> RowT | None:
        """The row object behind ``index``, or None for an invalid or stale index."""
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        return self.rows[index.row()]

    def cell_data(self, row: RowT, column: int, role: int) -> Any:
        """What the cell at ``column`` of ``row`` shows for ``role``; None for nothing."""
        return None

    # ---- Qt model --------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal
        if role == Qt.ItemDataRole.DisplayRole and horizontal and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row_at(index)
        if row is None or not 0 <= index.column() < len(self.HEADERS):
            return None
        return self.cell_data(row, index.column(), role)


def setup_row_table(
    table: QTableView, *, stretch_column: int, selection: QAbstractItemView.SelectionMode
) -> None:
    """Style ``table`` as a list of objects: whole rows selected, no row numbers and no
    grid, alternating row colours, columns as wide as their contents except
    ``stretch_column``, which takes the rest of the width."""
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(selection)
    table.verticalHeader().hide()
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch_column, QHeaderView.ResizeMode.Stretch)


__all__ = ["ALIGN_RIGHT", "Index", "RowsTableModel", "setup_row_table"]
