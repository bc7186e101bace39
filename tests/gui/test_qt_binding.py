"""The Qt binding keeps its reference counts: a release that drops references it does
not own makes the app die at quit with "Fatal Python error: none_dealloc".

PySide6 6.12.0 did: every ``SignalInstance.emit`` returned ``True`` without a reference
(the app emits thousands of signals a session), and ``QModelIndex.data`` gave back the
``None`` of a Python model's ``data()`` without one. Measured in the window: ``None``
lost ~460 references per run and ~40 per repaint, until finalization freed it.
pyproject.toml excludes that release; these tests catch the next one like it.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable

import pytest
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)

pytestmark = pytest.mark.gui

CALLS = 2000
SLACK = 50
"""Unrelated allocations may move a count a little; a dropped reference per call moves
it by CALLS."""


class _Emitter(QObject):
    bare = Signal()
    payload = Signal(object)


class _SparseModel(QAbstractTableModel):
    """Like the app's models: text for DisplayRole, None for every other role."""

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 2

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 2

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        return "cell" if role == Qt.ItemDataRole.DisplayRole else None


def _drift(obj: object, action: Callable[[], object]) -> int:
    gc.collect()
    before = sys.getrefcount(obj)
    for _ in range(CALLS):
        action()
    gc.collect()
    return sys.getrefcount(obj) - before


def test_emitting_a_signal_keeps_the_count_of_true(qapp) -> None:  # type: ignore[no-untyped-def]
    emitter = _Emitter()
    seen: list[object] = []
    emitter.bare.connect(lambda: seen.append(1))
    emitter.payload.connect(seen.append)
    assert abs(_drift(True, emitter.bare.emit)) < SLACK
    assert abs(_drift(True, lambda: emitter.payload.emit(7))) < SLACK
    assert len(seen) == 2 * CALLS  # the signals were delivered, not skipped


def test_a_model_returning_none_keeps_the_count_of_none(qapp) -> None:  # type: ignore[no-untyped-def]
    model = _SparseModel()
    index = model.index(1, 1)
    assert index.data(Qt.ItemDataRole.DisplayRole) == "cell"
    assert abs(_drift(None, lambda: index.data(Qt.ItemDataRole.ToolTipRole))) < SLACK
