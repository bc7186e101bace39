"""Titled lists of check boxes: the Versions, Models and Test cases pickers of the
run setup, each item carrying the value it stands for (a version id, a model id,
a test case)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)


def checklist(title: str, action: QWidget | None = None) -> tuple[QWidget, QListWidget]:
    """A titled list of check boxes; ``action`` goes on the title's line, at the right."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    label = QLabel(title)
    label.setObjectName("sectionLabel")
    if action is None:
        layout.addWidget(label)
    else:
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(label, 1)
        head.addWidget(action)
        layout.addLayout(head)
    lst = QListWidget()
    lst.setObjectName(f"{title.lower().replace(' ', '')}List")
    lst.setUniformItemSizes(True)
    lst.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    # Elided in the middle: a model id's profile and its distinguishing end (a date,
    # "-latest") both stay ("anthropic:claude…20241022"); the tooltip has it whole.
    lst.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    lst.setMinimumHeight(3 * (lst.fontMetrics().height() + 4) + 2 * lst.frameWidth())
    layout.addWidget(lst, 1)
    return box, lst


def add_check(lst: QListWidget, text: str, data: object, checked: bool, tip: str = "") -> None:
    """Append a check box for ``data``, shown as ``text`` (its tooltip: text and tip)."""
    item = QListWidgetItem(text)
    item.setData(Qt.ItemDataRole.UserRole, data)
    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
    item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
    item.setToolTip(f"{text}\n{tip}" if tip else text)
    lst.addItem(item)


def checked(lst: QListWidget) -> list[object]:
    """The values of the ticked items, in the list's order."""
    return [
        lst.item(i).data(Qt.ItemDataRole.UserRole)
        for i in range(lst.count())
        if lst.item(i).checkState() == Qt.CheckState.Checked
    ]


def check_exactly(lst: QListWidget, wanted: Sequence[object]) -> None:
    """Tick exactly the items of ``wanted`` (added, ticked, when not on offer)."""
    present = {lst.item(i).data(Qt.ItemDataRole.UserRole) for i in range(lst.count())}
    for w in wanted:
        if w not in present:
            add_check(lst, str(w), w, True)
    for i in range(lst.count()):
        item = lst.item(i)
        on = item.data(Qt.ItemDataRole.UserRole) in wanted
        item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
