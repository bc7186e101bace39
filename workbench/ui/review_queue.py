"""The review queue's table: one row per version awaiting review (prompt, version,
author, message, its state: awaiting, changes requested, a decision pending or
refused), its columns fitted to the width the queue has (Prompt, Version and State
always show; Message and Author give way first; a prompt name wraps after its
folder rather than being cut)."""

from __future__ import annotations

import uuid

from PySide6.QtCore import QEvent, QObject, QRect, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
)

from workbench.core.models import PromptVersion
from workbench.registry.review import AwaitingReview
from workbench.ui.table_model import setup_row_table

Pending = list[tuple[str, str, str | None]]
"""A version's decisions in the outbox: (decision, status, the registry's error)."""


class ReviewQueue(QTableWidget):
    """The versions awaiting review, in the left pane of ``split``."""

    HEADERS = ("Prompt", "Version", "Author", "Message", "State")
    OPTIONAL_COLUMNS = (3, 2)
    """Message, then Author: hidden in that order when the queue is too narrow for
    every column (the title above the diff names both)."""

    def __init__(self, split: QSplitter) -> None:
        super().__init__(0, len(self.HEADERS))
        self.split = split
        """The splitter the queue shares with the version's pane: it takes room from
        that pane when its columns do not fit (see :meth:`fit_columns`)."""
        self.queued: list[AwaitingReview] = []
        self.setObjectName("reviewQueue")
        self.setHorizontalHeaderLabels(list(self.HEADERS))
        setup_row_table(
            self, stretch_column=3, selection=QAbstractItemView.SelectionMode.SingleSelection
        )
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # A prompt's whole name is what a reviewer reads (the folder tells
        # "billing/…" from "support/…"): when the queue is too narrow for it on one
        # line it wraps after its "/" (rows grow), and only a leaf longer than the
        # column is elided, in the middle; tooltips hold it all.
        self.setWordWrap(True)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.viewport().installEventFilter(self)

    def show_items(self, items: list[AwaitingReview], pending: dict[str, Pending]) -> None:
        """Fill the rows (selection signals blocked) and fit the columns."""
        self.queued = items
        self.blockSignals(True)
        self.setRowCount(len(items))
        for row, item in enumerate(items):
            v = item.version
            state = state_text(item, pending.get(str(v.id), []))
            for col, text in enumerate((v.prompt, v.display_number, v.author, v.message, state)):
                cell = QTableWidgetItem(text)
                cell.setToolTip(text)
                self.setItem(row, col, cell)
        self.blockSignals(False)
        self.fit_columns()

    def current(self) -> PromptVersion | None:
        rows = {i.row() for i in self.selectionModel().selectedRows()}
        if not rows or min(rows) >= len(self.queued):
            return None
        return self.queued[min(rows)].version

    def select(self, version_id: uuid.UUID) -> bool:
        for row, item in enumerate(self.queued):
            if item.version.id == version_id:
                self.selectRow(row)
                return True
        return False

    def fit_columns(self) -> None:
        """Every shown column fits the queue's width: Prompt, Version and State always
        show (State is what a reviewer scans for); Message and Author show when there
        is room. A prompt name is shown whole, on one line when there is room, else
        wrapped after its folder ("billing/" over "invoice-summary")."""
        header = self.horizontalHeader()
        for col in range(len(self.HEADERS)):
            self.setColumnHidden(col, False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        metrics = self.fontMetrics()
        pad = metrics.horizontalAdvance("x") * 2  # the cell's margins
        names = [item.version.prompt for item in self.queued]
        whole = max((metrics.horizontalAdvance(n) for n in names), default=0) + pad
        # The narrowest a name wraps to: its folder and its leaf on lines of their
        # own, a long leaf broken after its hyphens ("invoice-" over "summary").
        parts = max(
            (
                metrics.horizontalAdvance(word + "-")
                for n in names
                for p in n.split("/")
                for word in p.split("-")
            ),
            default=0,
        )
        narrowest = max(parts + pad, header.sectionSizeHint(0))
        header.resizeSection(0, max(whole, header.sectionSizeHint(0)))
        available = self.viewport().width()
        minimum = metrics.horizontalAdvance("x" * 12)  # a Message worth showing

        def needed() -> int:
            width = 0
            for col in range(len(self.HEADERS)):
                if self.isColumnHidden(col):
                    continue
                if col == 3:
                    width += minimum
                elif col == 0:
                    width += header.sectionSize(0)
                else:
                    width += max(header.sectionSizeHint(col), self.sizeHintForColumn(col))
            return width

        for col in self.OPTIONAL_COLUMNS:
            if needed() <= available:
                break
            self.setColumnHidden(col, True)
        if needed() > available:  # still too wide: the prompt names wrap
            spare = available - (needed() - header.sectionSize(0))
            header.resizeSection(0, max(spare, narrowest))
            # Still cut: the queue takes the room it needs from the diff, which keeps
            # at least 60% of the width (the evidence table fits in that at 1024 px).
            sizes = self.split.sizes()
            room = sizes[1] - int(0.6 * sum(sizes)) if len(sizes) == 2 else 0
            deficit = needed() - available
            if deficit > 0 and room > 0:
                grow = min(deficit, room)
                self.split.setSizes([sizes[0] + grow, sizes[1] - grow])  # fits again
        # Rows as tall as their prompt name needs (not the Message: it stays on one
        # line, elided, its tooltip whole).
        line = self.verticalHeader().defaultSectionSize()
        width = header.sectionSize(0) - pad
        wrap = int(Qt.TextFlag.TextWordWrap)
        for row, name in enumerate(names):
            lines = metrics.boundingRect(QRect(0, 0, width, 10_000), wrap, name).height()
            extra = lines - metrics.height()
            self.setRowHeight(row, line + max(0, extra))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.viewport() and event.type() == QEvent.Type.Resize:
            self.fit_columns()
        return super().eventFilter(watched, event)


def state_text(item: AwaitingReview, pending: Pending) -> str:
    """What the State column says: the latest pending decision, else the version's."""
    if pending:
        decision, status, _error = pending[-1]
        verb = decision.replace("_", " ")
        return f"{verb}: refused" if status == "rejected" else f"{verb}: pending"
    if item.changes_requested:
        return f"changes requested ×{item.changes_requested}"
    return "awaiting"
