"""Columns sized to what they hold, for tables whose text a person must read whole.

Qt's ``ResizeToContents`` sizes each column to its contents but lets the table run
past its viewport (a sideways scroll bar hides the right-hand columns), and
``Stretch`` gives one column the rest but squeezes it to nothing in a narrow window
(a model id clipped to "anthropic:…iku-latest" while the last column sits half
empty). :class:`ColumnFitter` does what a person would: every column as wide as its
widest entry; when the sum does not fit, the named text columns give way in the order
named (the one a person needs least whole first), each to no less than
``floor_chars`` characters and never below their header (then elided in the middle,
their tooltips whole); what still does not fit scrolls sideways, each column readable;
room left over goes to the ``spare`` column.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QHeaderView, QTableView


class ColumnFitter(QObject):
    """Keeps ``table``'s columns fitted as its width and its rows change."""

    def __init__(
        self,
        table: QTableView,
        shrinkable: Sequence[int],
        spare: int | None = None,
        floor_chars: int = 12,
        floors: dict[int, int] | None = None,
    ) -> None:
        super().__init__(table)
        self.table = table
        self.shrinkable = tuple(shrinkable)
        """Columns that give way when the table is too narrow, the first first."""
        self.spare = spare
        """The column that takes the width left over (None: the last one)."""
        self.floor_chars = floor_chars
        self.floors = dict(floors or {})
        """Characters a column keeps at the least, where not ``floor_chars``."""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.fit)
        self._viewport = table.viewport()  # kept: the table may be gone when it resizes
        self._viewport.installEventFilter(self)
        model = table.model()
        for signal in (model.modelReset, model.layoutChanged, model.rowsInserted):
            signal.connect(self._timer.start)
        model.dataChanged.connect(self._timer.start)
        header = table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)

    def wanted(self, column: int) -> int:
        """The width the column's header and widest entry need."""
        header = self.table.horizontalHeader()
        return max(header.sectionSizeHint(column), self.table.sizeHintForColumn(column))

    def fit(self) -> None:
        header = self.table.horizontalHeader()
        columns = [c for c in range(header.count()) if not self.table.isColumnHidden(c)]
        if not columns:
            return
        widths = {c: self.wanted(c) for c in columns}
        available = self.table.viewport().width()
        excess = sum(widths.values()) - available
        if excess > 0:
            metrics = self.table.fontMetrics()
            for c in self.shrinkable:
                if c not in widths or excess <= 0:
                    continue
                # Never below the header's own width: a column whose name is cut
                # ("romp") tells a person nothing about what it holds.
                floor = max(
                    header.sectionSizeHint(c),
                    metrics.horizontalAdvance("x" * self.floors.get(c, self.floor_chars)),
                )
                give = min(excess, max(0, widths[c] - floor))
                widths[c] -= give
                excess -= give
        else:
            spare = self.spare if self.spare in widths else columns[-1]
            widths[spare] -= excess  # excess <= 0: the room left over
        for c in columns:
            header.resizeSection(c, widths[c])

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._viewport and event.type() == QEvent.Type.Resize:
            self._timer.start()
        return super().eventFilter(watched, event)


__all__ = ["ColumnFitter"]
