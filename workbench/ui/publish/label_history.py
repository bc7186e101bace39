"""The publish dialog's label history: how the prompt's labels moved, newest first,
from the registry's audit log (or, offline, the vault's mirror of it)."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from workbench.core.models import LabelEvent


class LabelHistoryTable(QTableWidget):
    """When, who, label, version and reason of each move; read-only."""

    def __init__(self) -> None:
        super().__init__(0, 5)
        self.setObjectName("labelHistory")
        self.setHorizontalHeaderLabels(["When", "Who", "Label", "Version", "Reason"])
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setShowGrid(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        # At least the header and one whole row, however small the screen.
        self.setMinimumHeight(
            header.sizeHint().height()
            + self.verticalHeader().defaultSectionSize()
            + 2 * self.frameWidth()
            + 2
        )

    def show_events(self, entries: list[LabelEvent]) -> None:
        rows = list(reversed(entries))  # newest first
        self.setRowCount(len(rows))
        for r, entry in enumerate(rows):
            number = entry.to_number
            cells = [
                f"{entry.at.astimezone():%Y-%m-%d %H:%M}",
                entry.actor,
                entry.label,
                f"v{number}" if number is not None else "",
                entry.reason,
            ]
            for c, text in enumerate(cells):
                self.setItem(r, c, QTableWidgetItem(text))
