"""The row of the Compare grid's own tools: "Failures only" and "Differences only"
(which hide settled test cases, and say how many), "Group by" (the columns' order
on screen), Fit columns (wired by the panel) and the exports of the grid (CSV or
JSON) and of the chart (PNG or SVG)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableView,
    QWidget,
)

from workbench.core.errors import UsageError
from workbench.ui.charts import ChartsPanel
from workbench.ui.errors import ErrorReporter
from workbench.ui.grid import GridModel


class GridTools(QWidget):
    """Filters, grouping and exports of ``grid`` (showing ``model``) and ``charts``."""

    def __init__(
        self, grid: QTableView, model: GridModel, reporter: ErrorReporter, charts: ChartsPanel
    ) -> None:
        super().__init__()
        self.grid = grid
        self.model = model
        self.reporter = reporter
        self.charts = charts
        self.failures_only = QCheckBox("Failures only")
        self.failures_only.setToolTip("Hide the test cases whose every cell passed")
        self.failures_only.toggled.connect(lambda _on: self.apply_filter())
        self.differences_only = QCheckBox("Differences only")
        self.differences_only.setToolTip(
            "Hide the test cases where every cell gave the same answer"
        )
        self.differences_only.toggled.connect(lambda _on: self.apply_filter())
        self.filter_note = QLabel()
        self.filter_note.setObjectName("filterNote")
        self.group_by = QComboBox()
        self.group_by.setAccessibleName("Group columns")
        self.group_by.addItem("Group by version", "version")
        self.group_by.addItem("Group by model", "model")
        self.group_by.setToolTip("Side by side: each version's models, or each model's versions")
        self.group_by.currentIndexChanged.connect(lambda _i: self.apply_grouping())
        self.fit_button = QPushButton("Fit columns")
        self.fit_button.setToolTip("Make the columns fill the width, or fit their numbers")
        self.export_grid_button = QPushButton("Export grid…")
        self.export_grid_button.clicked.connect(self._export_grid_dialog)
        self.export_chart_button = QPushButton("Export chart…")
        self.export_chart_button.clicked.connect(self._export_chart_dialog)
        tools = QHBoxLayout(self)
        tools.setContentsMargins(0, 0, 0, 0)
        tools.addWidget(self.failures_only)
        tools.addWidget(self.differences_only)
        tools.addWidget(self.group_by)
        tools.addWidget(self.filter_note, 1)
        tools.addWidget(self.fit_button)
        tools.addWidget(self.export_grid_button)
        tools.addWidget(self.export_chart_button)

    def filtering(self) -> bool:
        return self.failures_only.isChecked() or self.differences_only.isChecked()

    def apply_filter(self) -> None:
        """Failures only / differences only: a test case is hidden once all its cells
        are in and none fails / all gave the same answer (both: either hides it)."""
        failures, differences = self.failures_only.isChecked(), self.differences_only.isChecked()
        model = self.model
        hidden = 0
        for row in range(len(model.rows)):
            hide = model.row_settled(row) and (
                (failures and not model.row_failed(row))
                or (differences and not model.row_differs(row))
            )
            hidden += hide
            self.grid.setRowHidden(row, hide)
        total = len(model.rows)
        self.filter_note.setText(
            f"{hidden} of {total} test case{'s' if total != 1 else ''} hidden" if hidden else ""
        )

    def apply_grouping(self) -> None:
        """Put the columns side by side as "Group by" says (the view's order only: the
        model, its exports and the totals keep the run's order)."""
        header = self.grid.horizontalHeader()
        order = self.model.column_order(str(self.group_by.currentData()))
        for visual, logical in enumerate(order):
            header.moveSection(header.visualIndex(logical), visual)

    def options(self) -> dict[str, object]:
        """The filters and grouping, as remembered between sessions."""
        return {
            "failures_only": self.failures_only.isChecked(),
            "differences_only": self.differences_only.isChecked(),
            "group_by": self.group_by.currentData(),
        }

    def recall(self, options: Mapping[str, object]) -> None:
        """Set the filters and grouping remembered (see :meth:`options`)."""
        self.failures_only.setChecked(bool(options.get("failures_only")))
        self.differences_only.setChecked(bool(options.get("differences_only")))
        index = self.group_by.findData(options.get("group_by"))
        if index >= 0:
            self.group_by.setCurrentIndex(index)

    # ---- export ----------------------------------------------------------------------

    def export_grid(self, path: Path) -> None:
        """The grid's cells as JSON (a ``.json`` path) or else CSV."""
        text = self.model.to_json() if path.suffix.lower() == ".json" else self.model.to_csv()
        path.write_text(text, encoding="utf-8")

    def _export(self, title: str, name: str, kinds: str, write: Callable[[Path], None]) -> None:
        path, _ = QFileDialog.getSaveFileName(self, title, name, kinds)
        if not path:
            return
        try:
            write(Path(path))
        except OSError as exc:
            self.reporter.report(
                UsageError(
                    f"cannot write {path}: {exc.strerror}", hint="Choose a folder you can write to."
                ),
                "export",
            )

    @Slot()
    def _export_grid_dialog(self) -> None:
        self._export("Export grid", "run.csv", "CSV (*.csv);;JSON (*.json)", self.export_grid)

    @Slot()
    def _export_chart_dialog(self) -> None:
        self._export("Export chart", "run.png", "PNG (*.png);;SVG (*.svg)", self.charts.export)
