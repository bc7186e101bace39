"""The Compare tab itself: the run setup, the status and grid tools rows, the grid
and the results tabs in one vertical splitter, and the run's course through them
(start, streamed batches, progress and spend, the end, cancel, a failure, a past
run opened from the vault)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

from PySide6.QtCore import QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from workbench.charts.run_charts import partial_note
from workbench.core.errors import UsageError, WorkbenchError
from workbench.core.models import PromptVersion
from workbench.core.money import CostTotal, cost_total, format_total
from workbench.core.runs import CellResult, Run, RunSpec, TestCase
from workbench.engine.runner import Estimate
from workbench.ui.cell_view import CellDelegate
from workbench.ui.compare.estimate import Preflight, estimate_line
from workbench.ui.compare.grid_tools import GridTools
from workbench.ui.compare.memory import ChoicesMemory
from workbench.ui.compare.results import ResultsTabs
from workbench.ui.compare.setup_form import RunSetupForm
from workbench.ui.compare.sizing import GridSizer
from workbench.ui.errors import ErrorReporter
from workbench.ui.format import fmt_usd
from workbench.ui.grid import CELL_ROLE, GridModel
from workbench.ui.worker import Batch, RunController

READY = "Choose versions, models and test cases, then Run."


class ComparePanel(QWidget):
    """Versions x models x test cases, streamed into a grid, with totals, a summary,
    charts, cell details and a diff between two cells' outputs."""

    run_finished = Signal(object)  # Run
    refresh_models_requested = Signal()
    """"Refresh models" was pressed: ask the profiles' servers for their models again
    (the window does, then calls :meth:`reload_models`)."""

    def __init__(
        self,
        controller: RunController,
        reporter: ErrorReporter,
        available_models: Callable[[], list[str]],
        default_models: Callable[[], list[str]],
        concurrency: Callable[[], int],
        preflight: Preflight | None = None,
        memory: QSettings | None = None,
    ) -> None:
        super().__init__()
        self.memory = ChoicesMemory(memory)
        """Where the choices are remembered between sessions (ticked models, each prompt's
        ticked versions, repeats, cache, the grid's filters and grouping)."""
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
        self.versions: dict[uuid.UUID, PromptVersion] = {}
        self.last_run: Run | None = None
        self._build()
        controller.started.connect(self._on_started)
        controller.batch.connect(self._on_batch)
        controller.finished.connect(self._on_finished)
        controller.failed.connect(self._on_failed)
        self._clock = QTimer(self, interval=200)
        self._clock.timeout.connect(self._update_status)
        # The summary follows a streaming run about once a second (it re-sizes every
        # column, too costly for every batch of a big grid); the run's end refreshes it.
        self._summary_timer = QTimer(self, interval=1000, singleShot=True)
        self._summary_timer.timeout.connect(self._refresh_summary)
        self._estimate_timer = QTimer(self, interval=250, singleShot=True)
        self._estimate_timer.timeout.connect(self.show_estimate)
        setup = self.setup
        for lst in (setup.versions_list, setup.models_list, setup.cases_list):
            lst.itemChanged.connect(lambda _item: self._estimate_timer.start())
        setup.repeats.valueChanged.connect(lambda _v: self._estimate_timer.start())
        self._recall_options()
        # A user's own choice is remembered (the lists are refilled with signals blocked).
        for lst in (setup.versions_list, setup.models_list):
            lst.itemChanged.connect(lambda _item: self._remember())
        setup.model_added.connect(self._remember)
        setup.repeats.valueChanged.connect(lambda _v: self._remember())
        setup.use_cache.toggled.connect(lambda _on: self._remember())
        self.tools.failures_only.toggled.connect(lambda _on: self._remember())
        self.tools.differences_only.toggled.connect(lambda _on: self._remember())
        self.tools.group_by.currentIndexChanged.connect(lambda _i: self._remember())
        self._done = self._total = 0
        self._cost = CostTotal()
        """What the finished cells cost, by the one money rule (unpriced calls counted)."""

    # ---- layout ----------------------------------------------------------------------

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(6)
        self.setup = RunSetupForm(self.reporter)
        self.setup.refresh_models_button.clicked.connect(self.refresh_models_requested)
        self.setup.run_button.clicked.connect(self.start_run)
        self.setup.cancel_button.clicked.connect(self.cancel_run)

        status_box = QWidget()
        status = QHBoxLayout(status_box)
        status.setContentsMargins(0, 0, 0, 0)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("%v / %m cells")
        self.progress.setMaximumWidth(220)
        self.status = QLabel(READY)
        self.status.setObjectName("statusReadout")
        self.status.setWordWrap(True)
        status.addWidget(self.progress)
        status.addWidget(self.status, 1)
        self.grid_model = GridModel()
        self.grid = QTableView()
        self.grid.setObjectName("compareGrid")
        self.grid.setModel(self.grid_model)
        self.delegate = CellDelegate(self.grid)
        self.grid.setItemDelegate(self.delegate)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.grid.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.grid.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        header = self.grid.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setTextElideMode(Qt.TextElideMode.ElideRight)  # the tooltip has the whole title
        self.sizer = GridSizer(self.grid, self.grid_model, self.delegate)
        self.grid.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.grid.verticalHeader().setDefaultSectionSize(self.delegate.cell_height())
        self.grid.selectionModel().selectionChanged.connect(self._on_cell_selection)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        # The grid's own tools on a row of their own: beside the status line they would
        # squeeze it (or widen the window) at 1024 px.
        self.results = ResultsTabs()
        self.tools = GridTools(self.grid, self.grid_model, self.reporter, self.results.charts)
        self.tools.fit_button.clicked.connect(self.sizer.fit_columns)
        fit = QAction("Fit columns", self.grid)
        fit.triggered.connect(self.sizer.fit_columns)
        self.grid.addAction(fit)

        # One vertical splitter: the setup keeps at least its lists' minimum (the
        # add-model row is always in view) and gives the grid the rest as it grows.
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.setSpacing(6)
        top_layout.addWidget(self.setup, 1)
        top_layout.addWidget(status_box)
        top_layout.addWidget(self.tools)
        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        self.splitter = split
        split.addWidget(top)
        split.addWidget(self.grid)
        split.addWidget(self.results)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 3)
        split.setStretchFactor(2, 2)
        split.setSizes([top.minimumSizeHint().height() + 40, 420, 300])
        outer.addWidget(split, 1)

    # ---- choices ---------------------------------------------------------------------

    def set_prompt(
        self, name: str | None, versions: list[PromptVersion], cases: list[TestCase]
    ) -> None:
        if name != self.prompt and not self.controller.running:
            self.clear_run()
        self.prompt = name
        self.versions = {v.id: v for v in versions}
        self.labels = self.setup.set_versions(versions, self.memory.versions(name))
        self.set_cases(cases)
        self.reload_models()

    def clear_run(self) -> None:
        """Show nothing of a run: another prompt was chosen."""
        self.last_run = None
        self.grid_model.clear()
        self.sizer.measure([], reset=True)
        self.results.clear_results()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self._done = self._total = 0
        self._cost = CostTotal()
        self.status.setText(READY)

    def set_cases(self, cases: list[TestCase]) -> None:
        self.setup.set_cases(cases)
        self._estimate_timer.start()

    def reload_models(self) -> None:
        self.setup.set_models(
            [*self.default_models(), *self.available_models()],
            self.memory.models() or self.default_models(),
        )
        # Asked again even when the choice is the same: a profile's prices may have changed.
        self._estimate_timer.start()

    def check_only(
        self, versions: list[uuid.UUID] | None = None, models: list[str] | None = None
    ) -> None:
        """Tick exactly these versions / models (for scripts and tests)."""
        self.setup.check_only(versions, models)

    def build_spec(self) -> RunSpec:
        return self.setup.build_spec(self.prompt, self.concurrency())

    def _recall_options(self) -> None:
        options = self.memory.options()
        self.setup.recall(options)
        self.tools.recall(options)

    def _remember(self) -> None:
        """Write the current choices, so the next session (and Ctrl+R at once) runs what
        was ticked, not the defaults."""
        options = {**self.setup.options(), **self.tools.options()}
        self.memory.remember(
            self.setup.ticked_models(), self.prompt, self.setup.ticked_versions(), options
        )

    @Slot()
    def show_estimate(self) -> None:
        """Before Run: how many calls the ticked choices make and what they may cost
        (the same estimate and budget checks Run applies)."""
        if self.controller.running or self.prompt is None:
            return
        try:
            spec = self.build_spec()
        except (UsageError, ValueError) as exc:
            hint = getattr(exc, "hint", "")
            self.status.setText(f"Not ready: {exc}." + (f" {hint}" if hint else ""))
            return
        self.status.setText(estimate_line(spec, self.preflight))

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
            self.setup.cancel_button.setEnabled(False)
            self.status.setText(self.status.text() + "  ·  cancelling…")
            self.controller.cancel()

    @Slot(object)
    def _on_started(self, spec: RunSpec) -> None:
        self._estimate_timer.stop()
        self.last_run = None
        self.grid_model.set_spec(spec, self.labels)
        self.tools.apply_grouping()
        self.sizer.measure([], reset=True)
        self.results.clear_results()
        self.sizer.size_rows()
        self.sizer.fit_columns()
        self.progress.setRange(0, spec.total_cells)
        self.progress.setValue(0)
        self._done, self._total, self._cost = 0, spec.total_cells, CostTotal()
        self.setup.set_running(True)
        self._clock.start()
        self._update_status()

    @Slot(object)
    def _on_batch(self, batch: Batch) -> None:
        self.grid_model.apply(batch.deltas, batch.cells)
        self.sizer.measure(batch.cells)
        if batch.cells:
            self._done, self._total = batch.done, batch.total
            self._cost += cost_total(batch.cells)
            self.progress.setValue(batch.done)
            self.sizer.grow_columns()
            if not self._summary_timer.isActive():
                self._summary_timer.start()
            if self.tools.filtering():
                self.tools.apply_filter()
        self._update_status()

    def _update_status(self) -> None:
        # One clock for the live counter and the final "took": the controller's, from Run.
        elapsed = self.controller.elapsed_s() if self.controller.running else None
        parts = [f"{self._done} of {self._total} cells"]
        if elapsed is not None:
            parts.append(f"{elapsed:.1f} s elapsed")
        # Unpriced calls are said, never left out silently ("≥ $0.01, 3 calls unpriced").
        spent = f"spent {format_total(self._cost)}"
        if self.estimate is not None and self.controller.running:
            spent += f" of ~{fmt_usd(self.estimate.cost_usd)} estimated"
        parts.append(spent)
        if any(c.profile == "echo" for c in (col.model for col in self.grid_model.columns)):
            parts.append("echo columns are not a real model")
        self.status.setText("  ·  ".join(parts))

    @Slot(object)
    def _on_finished(self, run: Run) -> None:
        self._clock.stop()
        self.setup.set_running(False)
        self.last_run = run
        self.grid_model.finish(run.status)
        elapsed = self.controller.elapsed_s()  # the counter's clock, stopped at the end
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
        self.setup.set_running(False)
        self.grid_model.finish("failed")
        self.status.setText("The run failed: " + str(exc))
        self._show_results()
        self.reporter.report(exc, "run the comparison")

    @Slot()
    def _refresh_summary(self) -> None:
        if self.controller.running:
            self.results.summary_model.set_cells(self.grid_model.all_cells(), self.labels)

    def _show_results(self) -> None:
        self._summary_timer.stop()
        cells = self.grid_model.all_cells()
        run = self.last_run
        partial = partial_note(run.status, len(cells), run.spec.total_cells) if run else ""
        self.results.show_cells(cells, self.labels, partial)
        self.sizer.settle()
        self.tools.apply_filter()

    def show_run(self, run: Run, labels: Mapping[uuid.UUID, str]) -> None:
        """Show a past run from the vault; no model is called."""
        self.labels = {**{v: v.hex[:8] for v in run.spec.version_ids}, **labels}
        self.last_run = run
        self.grid_model.set_spec(run.spec, self.labels)
        self.tools.apply_grouping()
        self.grid_model.apply({}, run.cells)
        self.grid_model.finish(run.status)
        self.sizer.measure(run.cells, reset=True)
        self.results.clear_results()
        self.sizer.size_rows()
        self.sizer.user_sized = False
        self.progress.setRange(0, run.spec.total_cells)
        self.progress.setValue(len(run.cells))
        self._done, self._total = len(run.cells), run.spec.total_cells
        self._cost = cost_total(run.cells)
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
            self.show_cell(cells[0])
        elif len(cells) == 2:
            a, b = cells
            self.results.show_diff(a, b, self.cell_name(a), self.cell_name(b))

    def show_cell(self, cell: CellResult) -> None:
        case = self.grid_model.case(cell)
        version = self.versions.get(cell.key.version_id)
        self.results.show_cell(self.cell_name(cell), cell, case, version)

    def cell_name(self, c: CellResult) -> str:
        version = self.labels.get(c.key.version_id, c.key.version_id.hex[:8])
        case = self.grid_model.case(c)
        name = (case.name if case is not None else "") or f"case {c.key.case_index + 1}"
        repeat = (
            f" #{c.key.repeat + 1}"
            if self.grid_model.spec and self.grid_model.spec.repeats > 1
            else ""
        )
        return f"{version} · {c.key.model} · {name}{repeat}"
