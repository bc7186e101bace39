"""Charts of a run: a matplotlib ``Figure`` in ``FigureCanvasQTAgg``.

matplotlib costs about 0.9 s to import, so nothing here imports it until the
chart is first shown (:meth:`ChartsPanel.ensure_canvas`); start-up never pays.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from workbench.charts.run_charts import draw_run
from workbench.core.runs import CellResult


class ChartsPanel(QWidget):
    """Holds the canvas; draws when visible and data changed since the last draw."""

    def __init__(self) -> None:
        super().__init__()
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.placeholder = QLabel("Charts appear here once a run has results.")
        self.placeholder.setObjectName("dimLabel")
        self.layout_.addWidget(self.placeholder)
        self.figure: Any = None
        self.canvas: Any = None
        self.cells: list[CellResult] = []
        self.labels: dict[uuid.UUID, str] = {}
        self._stale = False

    def ensure_canvas(self) -> None:
        if self.canvas is not None:
            return
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(8, 5), dpi=96, layout=None)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.placeholder.hide()
        self.layout_.addWidget(self.canvas, 1)

    def set_cells(self, cells: Sequence[CellResult], labels: Mapping[uuid.UUID, str]) -> None:
        self.cells = list(cells)
        self.labels = dict(labels)
        self._stale = True
        if self.isVisible():
            self.redraw()

    def redraw(self) -> None:
        self.ensure_canvas()
        draw_run(self.figure, self.cells, self.labels)
        self.canvas.draw_idle()
        self._stale = False

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale or self.canvas is None:
            self.redraw()

    def export(self, path: Path) -> None:
        """PNG or SVG by the file's suffix."""
        if self._stale or self.canvas is None:
            self.redraw()
        self.figure.savefig(path, dpi=150, facecolor="white")
