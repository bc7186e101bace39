"""Column and row sizes of the Compare grid: no number and no header line is ever
cut. Each finished cell's readout is measured once as it arrives (each total once
per batch that changes it), columns grow to fit while a run streams, and "Fit
columns" shares the spare width among the version x model columns. Once a person
resizes a column by hand, a run's end only widens columns, never re-fits them."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QStyle, QTableView

from workbench.core.runs import CellResult
from workbench.ui.cell_view import CellDelegate, cell_lines
from workbench.ui.grid import GridModel


class GridSizer(QObject):
    """Sizes the columns and rows of ``grid``, which shows ``model`` with ``delegate``."""

    def __init__(self, grid: QTableView, model: GridModel, delegate: CellDelegate) -> None:
        super().__init__(grid)
        self.grid = grid
        self.model = model
        self.delegate = delegate
        self.user_sized = False
        """A column was resized by hand since the last fit."""
        self._fitting = False
        self._cell_widths: dict[int, int] = {}
        """Per grid column: the widest readout of its finished cells."""
        self._col_total_widths: dict[int, int] = {}
        self._row_total_widths: dict[int, int] = {}
        grid.horizontalHeader().sectionResized.connect(self._on_section_resized)

    def header_width(self, section: int) -> int:
        """Width the column's header needs to show its every line whole."""
        header = self.grid.horizontalHeader()
        text = self.model.headerData(section, Qt.Orientation.Horizontal) or ""
        font = QFont(header.font())
        font.setBold(True)  # the header of the selected cell's column is drawn bold
        fm = QFontMetrics(font)
        margin = header.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header)
        return max((fm.horizontalAdvance(t) for t in text.splitlines()), default=0) + 4 * margin

    def needed_width(self, column: int) -> int:
        """The narrowest the column can be with no number and no header line cut."""
        model = self.model
        need = self.header_width(column)
        if column < len(model.columns):  # its cells and its total, measured as they came
            return max(
                need,
                self.delegate.min_cell_width(),
                self._cell_widths.get(column, 0),
                self._col_total_widths.get(column, 0),
            )
        corner = self.delegate.readout_width(model.index(len(model.rows), column))
        return max(need, corner, *self._row_total_widths.values())

    def measure(self, cells: Sequence[CellResult], reset: bool = False) -> None:
        """Note how wide the readouts of newly finished cells and of the totals they
        change are: each cell once, each total once per batch that changes it."""
        if reset:
            self._cell_widths, self._col_total_widths, self._row_total_widths = {}, {}, {}
        model = self.model
        rows, cols = set(), set()
        for cell in cells:
            pos = model.position(cell.key)
            if pos is not None:
                width = self.delegate.lines_width(cell_lines(cell))
                self._cell_widths[pos[1]] = max(self._cell_widths.get(pos[1], 0), width)
                rows.add(pos[0])
                cols.add(pos[1])
        for c in cols:
            index = model.index(len(model.rows), c)
            self._col_total_widths[c] = self.delegate.readout_width(index)
        for r in rows:
            index = model.index(r, len(model.columns))
            self._row_total_widths[r] = self.delegate.readout_width(index)

    def size_rows(self) -> None:
        """Rows as tall as a cell's readout; the totals row as tall as a total's."""
        vh = self.grid.verticalHeader()
        vh.setDefaultSectionSize(self.delegate.cell_height())
        if self.model.rows:
            vh.resizeSection(len(self.model.rows), self.delegate.total_height())

    def _resize(self, column: int, width: int) -> None:
        self._fitting = True
        try:
            self.grid.horizontalHeader().resizeSection(column, width)
        finally:
            self._fitting = False

    @Slot()
    def fit_columns(self) -> None:
        """Columns as wide as their numbers and headers need; when that leaves room,
        the version x model columns share the rest of the width (more output shows)."""
        count = self.model.columnCount()
        if not count:
            return
        needs = [self.needed_width(c) for c in range(count)]
        data = len(self.model.columns)
        room = self.grid.viewport().width() - sum(needs)
        if room > 0 and data:
            share, extra = divmod(room, data)
            for c in range(data):
                needs[c] += share + (1 if c < extra else 0)
        for c, width in enumerate(needs):
            self._resize(c, width)
        self.user_sized = False

    def grow_columns(self) -> None:
        """Widen any column whose numbers would otherwise be cut (never narrows one)."""
        header = self.grid.horizontalHeader()
        for c in range(self.model.columnCount()):
            need = self.needed_width(c)
            if header.sectionSize(c) < need:
                self._resize(c, need)

    def settle(self) -> None:
        """A run's end: fit the columns, unless a person sized them (then only grow)."""
        if self.user_sized:
            self.grow_columns()
        else:
            self.fit_columns()

    @Slot(int, int, int)
    def _on_section_resized(self, _index: int, _old: int, _new: int) -> None:
        if not self._fitting:
            self.user_sized = True
