"""Charts of a run: a matplotlib ``Figure`` in ``FigureCanvasQTAgg``.

matplotlib costs about 0.9 s to import, so nothing here imports it until the
chart is first shown (:meth:`ChartsPanel.ensure_canvas`); start-up never pays.

The canvas sits in a scroll area: it is as wide as the pane and as tall as the
chart needs (its rows grow with the number of bars), so a run with many versions
and models scrolls instead of squeezing its labels together. The colours come from
the widget's palette, and the chart is redrawn when the palette changes (a theme
switch), so a dark window gets a dark chart.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QPalette, QShowEvent
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from workbench.charts.run_charts import ChartLayout, chart_layout, draw_run, save_run_chart
from workbench.charts.theme import ChartTheme
from workbench.core.runs import CellResult

DPI = 96
"""Figure inches to logical pixels (matplotlib scales for the screen's pixel ratio)."""


def palette_theme(palette: QPalette) -> ChartTheme:
    """The chart colours of a Qt palette: its window text on its window colour."""
    group = QPalette.ColorGroup.Active
    foreground = palette.color(group, QPalette.ColorRole.WindowText).name()
    background = palette.color(group, QPalette.ColorRole.Window).name()
    return ChartTheme.from_colors(foreground, background)


MAX_STRETCH = 1.3
"""How much taller than its readable minimum the chart may grow to fill a tall pane."""


class ChartsPanel(QWidget):
    """Holds the canvas; draws when visible and the data, width or palette changed."""

    def __init__(self) -> None:
        super().__init__()
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.placeholder = QLabel("Charts appear here once a run has results.")
        self.placeholder.setObjectName("dimLabel")
        self.layout_.addWidget(self.placeholder)
        self.scroll_area = QScrollArea()
        self.scroll_area.setObjectName("chartScroll")
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.hide()
        self.scroll_area.viewport().installEventFilter(self)
        self.layout_.addWidget(self.scroll_area, 1)
        self.figure: Any = None
        self.canvas: Any = None
        self.cells: list[CellResult] = []
        self.labels: dict[uuid.UUID, str] = {}
        self.partial = ""
        self.chart_layout: ChartLayout | None = None
        self._stale = False
        self.drawn_width = 0
        """The viewport width (px) the chart was last laid out for."""
        self._reflow = QTimer(self)
        self._reflow.setSingleShot(True)
        self._reflow.setInterval(80)  # one redraw when a resize drag settles
        self._reflow.timeout.connect(self._reflow_if_needed)

    def theme(self) -> ChartTheme:
        return palette_theme(self.palette())

    def ensure_canvas(self) -> None:
        if self.canvas is not None:
            return
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(8, 5), dpi=DPI)
        self.canvas = FigureCanvasQTAgg(self.figure)  # type: ignore[no-untyped-call]
        self.canvas.setObjectName("chartCanvas")
        self.placeholder.hide()
        self.scroll_area.setWidget(self.canvas)
        self.scroll_area.show()
        self.layout_.activate()  # the scroll area's real width, before the first draw

    def set_cells(
        self, cells: Sequence[CellResult], labels: Mapping[uuid.UUID, str], partial: str = ""
    ) -> None:
        """Show these cells; ``partial`` (``partial_note``) marks a run that did not finish."""
        self.cells = list(cells)
        self.labels = dict(labels)
        self.partial = partial
        self._stale = True
        if self.isVisible():
            self.redraw()

    def redraw(self) -> None:
        """Lay the chart out for the pane's width, size the canvas to its height
        (the scroll area scrolls what does not fit) and draw it."""
        self.ensure_canvas()
        viewport = self.scroll_area.viewport()
        width_px = max(viewport.width(), 240)
        width_in = width_px / DPI
        layout = chart_layout(self.cells, self.labels, width_in, self.partial)
        height_px = math.ceil(layout.height_in * DPI)
        # A tall pane gives the bars some air, never more: stretched to 1,400 px a
        # dozen bars become slabs. The rest of the pane stays empty below the chart.
        shown_px = min(max(height_px, viewport.height()), math.ceil(height_px * MAX_STRETCH))
        self.canvas.setFixedHeight(shown_px)
        # The figure gets the size the canvas is about to have, so the layout drawn
        # now (value labels fitted to the axes) is the one that is shown.
        self.figure.set_size_inches(width_in, shown_px / DPI, forward=False)
        self.chart_layout = draw_run(
            self.figure, self.cells, self.labels, self.theme(), width_in, self.partial
        )
        self.canvas.draw_idle()
        self.drawn_width = width_px
        self._stale = False

    def _reflow_if_needed(self) -> None:
        if self.canvas is None or not self.isVisible():
            return
        if self._stale or self.scroll_area.viewport().width() != self.drawn_width:
            self.redraw()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        resized = watched is self.scroll_area.viewport() and event.type() == QEvent.Type.Resize
        if resized and self.canvas is not None:
            self._reflow.start()
        return super().eventFilter(watched, event)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        palette = (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange)
        if event.type() in palette and self.canvas is not None:
            self._stale = True
            if self.isVisible():
                self.redraw()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale or self.canvas is None:
            self.redraw()

    def export(self, path: Path) -> None:
        """PNG or SVG by the file's suffix, at a fixed width in the shown colours."""
        save_run_chart(path, self.cells, self.labels, self.theme(), partial=self.partial)
