"""Compare: versions x models x test cases, streamed into a grid, with totals,
a summary, charts, cell details and a diff between two cells' outputs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import UsageError, WorkbenchError
from workbench.core.models import PromptVersion
from workbench.core.runs import CellResult, ModelRef, Run, RunSpec, TestCase
from workbench.engine.runner import Estimate
from workbench.ui.charts import ChartsPanel
from workbench.ui.errors import ErrorReporter
from workbench.ui.format import fmt_ms, fmt_usd
from workbench.ui.grid import (
    CELL_ROLE,
    KIND_ROLE,
    STREAM_ROLE,
    GridModel,
    SummaryModel,
    readout_lines,
)
from workbench.ui.highlight import monospace_font
from workbench.ui.history import DiffView
from workbench.ui.worker import Batch, RunController

_Index = QModelIndex | QPersistentModelIndex
CELL_W, CELL_H = 280, 104


class CellDelegate(QStyledItemDelegate):
    """Numbers first (monospace, one colour), then the output, elided to the cell."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        painter.save()
        style = option.widget.style() if option.widget else None
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, option.widget)
        rect: QRect = option.rect.adjusted(8, 6, -8, -6)
        palette: QPalette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        text_color = palette.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        dim = QColor(text_color)
        dim.setAlpha(150)
        mono = monospace_font(-1)
        base_font = QFont(option.font)
        kind = index.data(KIND_ROLE)
        cell: CellResult | None = index.data(CELL_ROLE)
        lines: list[tuple[str, QFont, QColor]] = []
        body = ""
        if kind != "cell":
            bold = QFont(mono)
            bold.setBold(True)
            for i, line in enumerate((index.data() or "").splitlines()):
                lines.append((line, bold if i == 2 else mono, text_color))
        elif cell is None:
            stream = index.data(STREAM_ROLE)
            if stream is None:
                lines.append(("waiting…", base_font, dim))
            else:
                lines.append(("streaming…", mono, QColor("#1e88e5")))
                body = stream
        elif not cell.ok:
            red = QColor("#e53935")
            lines.append((f"error: {cell.error_kind or 'failed'}", mono, red))
            body = cell.error or ""
        else:
            first, second = readout_lines(cell)
            lines.append((first, mono, text_color))
            lines.append((second, mono, QColor("#2e7d32") if cell.cached else dim))
            body = cell.output
        y = rect.top()
        for text, font, color in lines:
            fm = QFontMetrics(font)
            painter.setFont(font)
            painter.setPen(color)
            painter.drawText(
                QRect(rect.left(), y, rect.width(), fm.height()),
                int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                fm.elidedText(text, Qt.TextElideMode.ElideRight, rect.width()),
            )
            y += fm.height() + 1
        if body:
            y += 3
            painter.setFont(base_font)
            painter.setPen(text_color)
            fm = QFontMetrics(base_font)
            room = max(1, (rect.bottom() - y) // fm.height())
            flat = " ".join(body.split())
            chunks = _wrap(flat, fm, rect.width(), room)
            for chunk in chunks:
                painter.drawText(QRect(rect.left(), y, rect.width(), fm.height()),
                                 int(Qt.AlignmentFlag.AlignLeft), chunk)  # fmt: skip
                y += fm.height()
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        return QSize(CELL_W, CELL_H)


def _wrap(text: str, fm: QFontMetrics, width: int, lines: int) -> list[str]:
    out: list[str] = []
    words = text.split(" ")
    current = ""
    for word in words:
        trial = f"{current} {word}".strip()
        if fm.horizontalAdvance(trial) <= width or not current:
            current = trial
            continue
        out.append(current)
        current = word
        if len(out) == lines:
            break
    if len(out) < lines and current:
        out.append(current)
    if len(out) == lines and (len(" ".join(out)) < len(text)):
        out[-1] = fm.elidedText(out[-1] + " …", Qt.TextElideMode.ElideRight, width)
    return out[:lines]


def _checklist(title: str) -> tuple[QWidget, QListWidget]:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    label = QLabel(title)
    label.setObjectName("sectionLabel")
    layout.addWidget(label)
    lst = QListWidget()
    lst.setObjectName(f"{title.lower().replace(' ', '')}List")
    lst.setUniformItemSizes(True)
    lst.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    lst.setTextElideMode(Qt.TextElideMode.ElideRight)
    layout.addWidget(lst, 1)
    return box, lst


def _add_check(lst: QListWidget, text: str, data: object, checked: bool, tip: str = "") -> None:
    item = QListWidgetItem(text)
    item.setData(Qt.ItemDataRole.UserRole, data)
    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
    item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
    if tip:
        item.setToolTip(tip)
    lst.addItem(item)


def _checked(lst: QListWidget) -> list[object]:
    return [
        lst.item(i).data(Qt.ItemDataRole.UserRole)
        for i in range(lst.count())
        if lst.item(i).checkState() == Qt.CheckState.Checked
    ]


class ComparePanel(QWidget):
    run_finished = Signal(object)  # Run

    def __init__(
        self,
        controller: RunController,
        reporter: ErrorReporter,
        available_models: Callable[[], list[str]],
        default_models: Callable[[], list[str]],
        concurrency: Callable[[], int],
        preflight: Callable[[RunSpec], tuple[RunSpec, Estimate]] | None = None,
    ) -> None:
        super().__init__()
        self.preflight = preflight
        """Budgets and the cost estimate, checked before a run starts (raises to refuse)."""
        self.estimate: Estimate | None = None
        self.controller = controller
        self.reporter = reporter
        self.available_models = available_models
        self.default_models = default_models
        self.concurrency = concurrency
        self.prompt: str | None = None
        self.labels: dict[uuid.UUID, str] = {}
        self.last_run: Run | None = None
        self._build()
        controller.started.connect(self._on_started)
        controller.batch.connect(self._on_batch)
        controller.finished.connect(self._on_finished)
        controller.failed.connect(self._on_failed)
        self._clock = QTimer(self, interval=200)
        self._clock.timeout.connect(self._update_status)
        self._done = self._total = 0
        self._spent = 0.0

    # ---- layout ----------------------------------------------------------------------

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(6)
        setup = QFrame()
        setup.setObjectName("setupFrame")
        grid = QGridLayout(setup)
        grid.setContentsMargins(8, 6, 8, 6)
        grid.setHorizontalSpacing(10)
        vbox, self.versions_list = _checklist("Versions")
        mbox, self.models_list = _checklist("Models")
        cbox, self.cases_list = _checklist("Test cases")
        add_row = QHBoxLayout()
        self.model_entry = QLineEdit()
        self.model_entry.setPlaceholderText("profile:model")
        self.add_model_button = QPushButton("Add")
        self.add_model_button.clicked.connect(self._add_model)
        self.model_entry.returnPressed.connect(self._add_model)
        add_row.addWidget(self.model_entry, 1)
        add_row.addWidget(self.add_model_button)
        mbox.layout().addItem(add_row)  # type: ignore[union-attr]
        grid.addWidget(vbox, 0, 0)
        grid.addWidget(mbox, 0, 1)
        grid.addWidget(cbox, 0, 2)
        side = QVBoxLayout()
        side.setSpacing(6)
        rep = QHBoxLayout()
        rep.addWidget(QLabel("Repeats"))
        self.repeats = QSpinBox()
        self.repeats.setRange(1, 100)
        self.repeats.setToolTip("Run each cell several times: charts then show p50 and p95")
        rep.addWidget(self.repeats)
        side.addLayout(rep)
        self.use_cache = QCheckBox("Reuse cached answers")
        side.addWidget(self.use_cache)
        self.run_button = QPushButton("Run comparison")
        self.run_button.setObjectName("primaryButton")
        self.run_button.setToolTip("Run every chosen version x model x test case (Ctrl+R)")
        self.run_button.clicked.connect(self.start_run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_run)
        side.addWidget(self.run_button)
        side.addWidget(self.cancel_button)
        side.addStretch(1)
        grid.addLayout(side, 0, 3)
        for c, s in enumerate((3, 3, 3, 2)):
            grid.setColumnStretch(c, s)
        setup.setMaximumHeight(170)
        outer.addWidget(setup)

        status = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("%v / %m cells")
        self.progress.setMaximumWidth(260)
        self.status = QLabel("Choose versions, models and test cases, then Run.")
        self.status.setObjectName("statusReadout")
        self.export_grid_button = QPushButton("Export grid…")
        self.export_grid_button.clicked.connect(self._export_grid_dialog)
        self.export_chart_button = QPushButton("Export chart…")
        self.export_chart_button.clicked.connect(self._export_chart_dialog)
        status.addWidget(self.progress)
        status.addWidget(self.status, 1)
        status.addWidget(self.export_grid_button)
        status.addWidget(self.export_chart_button)
        outer.addLayout(status)

        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        self.splitter = split
        self.grid_model = GridModel()
        self.grid = QTableView()
        self.grid.setObjectName("compareGrid")
        self.grid.setModel(self.grid_model)
        self.grid.setItemDelegate(CellDelegate(self.grid))
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.grid.horizontalHeader().setDefaultSectionSize(CELL_W)
        self.grid.horizontalHeader().setMinimumHeight(44)
        self.grid.horizontalHeader().setDefaultAlignment(
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        )
        self.grid.verticalHeader().setDefaultSectionSize(CELL_H)
        self.grid.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.grid.selectionModel().selectionChanged.connect(self._on_cell_selection)
        split.addWidget(self.grid)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.summary_model = SummaryModel()
        self.summary = QTableView()
        self.summary.setObjectName("summaryTable")
        self.summary.setModel(self.summary_model)
        self.summary.verticalHeader().hide()
        self.summary.setAlternatingRowColors(True)
        self.summary.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.summary.horizontalHeader().setStretchLastSection(True)
        self.charts = ChartsPanel()
        self.cell_view = QPlainTextEdit()
        self.cell_view.setReadOnly(True)
        self.cell_view.setFont(monospace_font())
        self.cell_view.setPlaceholderText("Select a cell to see its whole output and every number.")
        self.cell_diff = DiffView()
        self.tabs.addTab(self.summary, "Summary")
        self.tabs.addTab(self.charts, "Charts")
        self.tabs.addTab(self.cell_view, "Cell")
        self.tabs.addTab(self.cell_diff, "Diff two cells")
        split.addWidget(self.tabs)
        split.setSizes([420, 300])
        outer.addWidget(split, 1)

    # ---- choices ---------------------------------------------------------------------

    def set_prompt(
        self, name: str | None, versions: list[PromptVersion], cases: list[TestCase]
    ) -> None:
        self.prompt = name
        self.versions_list.clear()
        self.labels = {}
        newest = list(reversed(versions))
        for i, v in enumerate(newest):
            self.labels[v.id] = v.display_number
            _add_check(self.versions_list, f"{v.display_number}  {v.message}", v.id, i < 2,
                       f"{v.display_number} by {v.author}")  # fmt: skip
        self.set_cases(cases)
        self.reload_models()

    def set_cases(self, cases: list[TestCase]) -> None:
        self.cases_list.clear()
        if not cases:
            _add_check(
                self.cases_list,
                "defaults only (no test cases yet)",
                TestCase(name="defaults"),
                True,
            )
        for case in cases:
            values = ", ".join(f"{k}={v}" for k, v in case.values.items())
            _add_check(self.cases_list, case.name or "(unnamed)", case, True, values)

    def reload_models(self) -> None:
        checked = {str(m) for m in _checked(self.models_list)} or set(self.default_models())
        self.models_list.clear()
        seen: list[str] = []
        for m in [*self.default_models(), *self.available_models()]:
            if m not in seen:
                seen.append(m)
        for m in seen:
            note = "  (echo: not a real model)" if m.startswith("echo:") else ""
            _add_check(self.models_list, m + note, m, m in checked)

    @Slot()
    def _add_model(self) -> None:
        text = self.model_entry.text().strip()
        try:
            ModelRef.parse(text)
        except ValueError as exc:
            self.reporter.report(
                UsageError(str(exc), hint="Write it as profile:model."), "add the model"
            )
            return
        _add_check(self.models_list, text, text, True)
        self.model_entry.clear()

    def check_only(
        self, versions: list[uuid.UUID] | None = None, models: list[str] | None = None
    ) -> None:
        """Tick exactly these versions / models (for scripts and tests)."""
        for lst, wanted in ((self.versions_list, versions), (self.models_list, models)):
            if wanted is None:
                continue
            present = {lst.item(i).data(Qt.ItemDataRole.UserRole) for i in range(lst.count())}
            for w in wanted:
                if w not in present:
                    _add_check(lst, str(w), w, True)
            for i in range(lst.count()):
                item = lst.item(i)
                on = item.data(Qt.ItemDataRole.UserRole) in wanted
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def build_spec(self) -> RunSpec:
        if self.prompt is None:
            raise UsageError("no prompt is selected", hint="Choose a prompt on the left first.")
        versions = [v for v in _checked(self.versions_list) if isinstance(v, uuid.UUID)]
        models = [ModelRef.parse(str(m)) for m in _checked(self.models_list)]
        cases = [c for c in _checked(self.cases_list) if isinstance(c, TestCase)]
        if not versions:
            raise UsageError(
                "no version is ticked", hint="Tick at least one version (two to compare)."
            )
        if not models:
            raise UsageError(
                "no model is ticked", hint="Tick a model, or add one as profile:model."
            )
        if not cases:
            raise UsageError("no test case is ticked", hint="Tick at least one test case.")
        return RunSpec(
            prompt=self.prompt,
            version_ids=tuple(versions),
            models=tuple(models),
            cases=tuple(cases),
            repeats=self.repeats.value(),
            concurrency=self.concurrency(),
            use_cache=self.use_cache.isChecked(),
        )

    # ---- running ---------------------------------------------------------------------

    @Slot()
    def start_run(self) -> None:
        if self.controller.running:
            return
        try:
            spec = self.build_spec()
            self.estimate = None
            if self.preflight is not None:
                spec, self.estimate = self.preflight(spec)
            self.controller.start(spec)
        except WorkbenchError as exc:
            self.reporter.report(exc, "start the run")

    @Slot()
    def cancel_run(self) -> None:
        if self.controller.running:
            self.cancel_button.setEnabled(False)
            self.status.setText(self.status.text() + "  ·  cancelling…")
            self.controller.cancel()

    @Slot(object)
    def _on_started(self, spec: RunSpec) -> None:
        self.grid_model.set_spec(spec, self.labels)
        self._fit_columns()
        self.progress.setRange(0, spec.total_cells)
        self.progress.setValue(0)
        self._done, self._total, self._spent = 0, spec.total_cells, 0.0
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._clock.start()
        self._update_status()

    def _fit_columns(self) -> None:
        header = self.grid.horizontalHeader()
        for c in range(self.grid_model.columnCount()):
            header.resizeSection(c, CELL_W if c < len(self.grid_model.columns) else 200)
        self.grid.verticalHeader().setMinimumWidth(90)
        if self.grid_model.rows:
            self.grid.verticalHeader().resizeSection(len(self.grid_model.rows), 72)

    @Slot(object)
    def _on_batch(self, batch: Batch) -> None:
        self.grid_model.apply(batch.deltas, batch.cells)
        if batch.cells:
            self._done, self._total, self._spent = batch.done, batch.total, batch.spent_usd
            self.progress.setValue(batch.done)
        self._update_status()

    def _update_status(self) -> None:
        elapsed = time.monotonic() - self.controller.started_at if self.controller.running else None
        parts = [f"{self._done} of {self._total} cells"]
        if elapsed is not None:
            parts.append(f"{elapsed:.1f} s elapsed")
        spent = f"{fmt_usd(self._spent)} spent"
        if self.estimate is not None and self.controller.running:
            spent += f" of ~{fmt_usd(self.estimate.cost_usd)} estimated"
        parts.append(spent)
        if any(c.profile == "echo" for c in (col.model for col in self.grid_model.columns)):
            parts.append("echo columns are not a real model")
        self.status.setText("  ·  ".join(parts))

    @Slot(object)
    def _on_finished(self, run: Run) -> None:
        self._clock.stop()
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.last_run = run
        elapsed = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0
        self._update_status()
        word = {"finished": "Finished", "cancelled": "Cancelled", "failed": "Failed"}.get(
            run.status, run.status
        )
        self.status.setText(f"{word}: {self.status.text()}  ·  took {elapsed:.1f} s")
        self._show_results()
        self.run_finished.emit(run)

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        self._clock.stop()
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.status.setText("The run failed: " + str(exc))
        self.reporter.report(exc, "run the comparison")

    def _show_results(self) -> None:
        cells = self.grid_model.all_cells()
        self.summary_model.set_cells(cells, self.labels)
        self.charts.set_cells(cells, self.labels)

    def show_run(self, run: Run, labels: Mapping[uuid.UUID, str]) -> None:
        """Show a past run from the vault; no model is called."""
        self.labels = {**{v: v.hex[:8] for v in run.spec.version_ids}, **labels}
        self.last_run = run
        self.grid_model.set_spec(run.spec, self.labels)
        self.grid_model.apply({}, run.cells)
        self._fit_columns()
        self.progress.setRange(0, run.spec.total_cells)
        self.progress.setValue(len(run.cells))
        self._done, self._total = len(run.cells), run.spec.total_cells
        self._spent = sum(c.cost_usd or 0.0 for c in run.cells)
        self._update_status()
        self.status.setText(
            f"Past run of {run.spec.prompt} from {run.started_at.astimezone():%Y-%m-%d %H:%M} "
            f"({run.status}), opened from the vault: no model was called  ·  {self.status.text()}"
        )
        self._show_results()

    # ---- cells -----------------------------------------------------------------------

    def selected_cells(self) -> list[CellResult]:
        out = []
        for index in sorted(
            self.grid.selectionModel().selectedIndexes(), key=lambda i: (i.column(), i.row())
        ):
            cell = index.data(CELL_ROLE)
            if isinstance(cell, CellResult):
                out.append(cell)
        return out

    @Slot()
    def _on_cell_selection(self, *_args: object) -> None:
        cells = self.selected_cells()
        if len(cells) == 1:
            c = cells[0]
            tip = self.grid_model.data(self.grid.currentIndex(), Qt.ItemDataRole.ToolTipRole) or ""
            body = c.output if c.ok else f"ERROR ({c.error_kind}): {c.error}"
            self.cell_view.setPlainText(f"{tip}\n\n{body}")
        elif len(cells) == 2:
            a, b = cells
            self.cell_diff.show_text_diff(
                a.output, b.output, self._cell_name(a), self._cell_name(b)
            )
            self.tabs.setCurrentWidget(self.cell_diff)

    def _cell_name(self, c: CellResult) -> str:
        version = self.labels.get(c.key.version_id, "?")
        return f"{version} · {c.key.model} · case {c.key.case_index + 1}"

    def _write_failed(self, path: str, exc: OSError) -> None:
        self.reporter.report(
            UsageError(
                f"cannot write {path}: {exc.strerror}", hint="Choose a folder you can write to."
            ),
            "export",
        )

    # ---- export ----------------------------------------------------------------------

    def export_grid(self, path: Path) -> None:
        text = (
            self.grid_model.to_json()
            if path.suffix.lower() == ".json"
            else self.grid_model.to_csv()
        )
        path.write_text(text, encoding="utf-8")

    @Slot()
    def _export_grid_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export grid", "run.csv", "CSV (*.csv);;JSON (*.json)"
        )
        if path:
            try:
                self.export_grid(Path(path))
            except OSError as exc:
                self._write_failed(path, exc)

    @Slot()
    def _export_chart_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export chart", "run.png", "PNG (*.png);;SVG (*.svg)"
        )
        if path:
            try:
                self.charts.export(Path(path))
            except OSError as exc:
                self._write_failed(path, exc)


__all__ = ["ComparePanel", "fmt_ms"]
