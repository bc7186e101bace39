"""Compare: versions x models x test cases, streamed into a grid, with totals,
a summary, charts, cell details and a diff between two cells' outputs."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QSettings,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QFont, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStyle,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.charts.run_charts import partial_note
from workbench.core.errors import UsageError, WorkbenchError
from workbench.core.models import PromptVersion
from workbench.core.money import CostTotal, cost_total, format_total
from workbench.core.runs import CellResult, ModelRef, Run, RunSpec, TestCase, cases_or_defaults
from workbench.core.templating import render_messages
from workbench.core.words import counted
from workbench.engine.runner import Estimate
from workbench.ui.cell_detail import CellDetail, OutputDiffView
from workbench.ui.cell_view import CellDelegate, FrozenColumnsTable, cell_lines
from workbench.ui.charts import ChartsPanel
from workbench.ui.errors import ErrorReporter
from workbench.ui.format import fmt_usd
from workbench.ui.grid import CELL_ROLE, SORT_ROLE, GridModel, SummaryModel
from workbench.ui.worker import Batch, RunController

_Index = QModelIndex | QPersistentModelIndex
REMEMBERED_PROMPTS = 200
"""Prompts whose ticked versions are remembered (the most recently used)."""


def _checklist(title: str, action: QWidget | None = None) -> tuple[QWidget, QListWidget]:
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


def _add_check(lst: QListWidget, text: str, data: object, checked: bool, tip: str = "") -> None:
    item = QListWidgetItem(text)
    item.setData(Qt.ItemDataRole.UserRole, data)
    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
    item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
    item.setToolTip(f"{text}\n{tip}" if tip else text)
    lst.addItem(item)


def _checked(lst: QListWidget) -> list[object]:
    return [
        lst.item(i).data(Qt.ItemDataRole.UserRole)
        for i in range(lst.count())
        if lst.item(i).checkState() == Qt.CheckState.Checked
    ]


class ComparePanel(QWidget):
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
        preflight: Callable[[RunSpec], tuple[RunSpec, Estimate]] | None = None,
        memory: QSettings | None = None,
    ) -> None:
        super().__init__()
        self.memory = memory
        """Where the choices are remembered between sessions (ticked models, each prompt's
        ticked versions, repeats, cache, the failures filter); None: nowhere."""
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
        self._fitting = False
        self._user_sized = False
        self._cell_widths: dict[int, int] = {}
        """Per grid column: the widest readout of its finished cells."""
        self._col_total_widths: dict[int, int] = {}
        self._row_total_widths: dict[int, int] = {}
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
        for lst in (self.versions_list, self.models_list, self.cases_list):
            lst.itemChanged.connect(lambda _item: self._estimate_timer.start())
        self.repeats.valueChanged.connect(lambda _v: self._estimate_timer.start())
        self._recall_options()
        # A user's own choice is remembered (the lists are refilled with signals blocked).
        for lst in (self.versions_list, self.models_list):
            lst.itemChanged.connect(lambda _item: self._remember())
        self.repeats.valueChanged.connect(lambda _v: self._remember())
        self.use_cache.toggled.connect(lambda _on: self._remember())
        self.failures_only.toggled.connect(lambda _on: self._remember())
        self.differences_only.toggled.connect(lambda _on: self._remember())
        self.group_by.currentIndexChanged.connect(lambda _i: self._remember())
        self._done = self._total = 0
        self._cost = CostTotal()
        """What the finished cells cost, by the one money rule (unpriced calls counted)."""

    # ---- layout ----------------------------------------------------------------------

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(6)
        setup = QFrame()
        setup.setObjectName("setupFrame")
        self.setup_frame = setup
        grid = QGridLayout(setup)
        grid.setContentsMargins(8, 6, 8, 6)
        grid.setHorizontalSpacing(10)
        vbox, self.versions_list = _checklist("Versions")
        self.refresh_models_button = QPushButton("Refresh models")
        self.refresh_models_button.setToolTip("Ask each provider's server for its models again")
        self.refresh_models_button.clicked.connect(self.refresh_models_requested)
        mbox, self.models_list = _checklist("Models", self.refresh_models_button)
        cbox, self.cases_list = _checklist("Test cases")
        add_box = QWidget()  # a widget, not a bare layout: its children get a parent
        add_row = QHBoxLayout(add_box)
        add_row.setContentsMargins(0, 0, 0, 0)
        self.model_entry = QLineEdit()
        self.model_entry.setPlaceholderText("profile:model")
        self.model_entry.setToolTip("Add a model by name, e.g. local:gpt-4o-mini, then Enter")
        self.add_model_button = QPushButton("Add")
        self.add_model_button.clicked.connect(self._add_model)
        self.model_entry.returnPressed.connect(self._add_model)
        # Room for a typical name: the field never shrinks to a few letters.
        self.model_entry.setMinimumWidth(
            self.model_entry.fontMetrics().horizontalAdvance("profile:model-name-1") + 16
        )
        add_row.addWidget(self.model_entry, 1)
        add_row.addWidget(self.add_model_button)
        mbox.layout().addWidget(add_box)  # type: ignore[union-attr]
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
        self.cancel_button.setToolTip("Stop the running comparison (Ctrl+.); off while none runs")
        self.cancel_button.clicked.connect(self.cancel_run)
        side.addWidget(self.run_button)
        side.addWidget(self.cancel_button)
        side.addStretch(1)
        grid.addLayout(side, 0, 3)
        # Models get the most room: their ids are the longest names here, and the
        # ones a person must tell apart ("…-sonnet-20241022" from "…-haiku-latest").
        for c, s in enumerate((3, 4, 2, 2)):
            grid.setColumnStretch(c, s)

        status_box = QWidget()
        status = QHBoxLayout(status_box)
        status.setContentsMargins(0, 0, 0, 0)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("%v / %m cells")
        self.progress.setMaximumWidth(220)
        self.status = QLabel("Choose versions, models and test cases, then Run.")
        self.status.setObjectName("statusReadout")
        self.status.setWordWrap(True)
        self.failures_only = QCheckBox("Failures only")
        self.failures_only.setToolTip("Hide the test cases whose every cell passed")
        self.failures_only.toggled.connect(lambda _on: self._apply_filter())
        self.differences_only = QCheckBox("Differences only")
        self.differences_only.setToolTip(
            "Hide the test cases where every cell gave the same answer"
        )
        self.differences_only.toggled.connect(lambda _on: self._apply_filter())
        self.filter_note = QLabel()
        self.filter_note.setObjectName("filterNote")
        self.group_by = QComboBox()
        self.group_by.setAccessibleName("Group columns")
        self.group_by.addItem("Group by version", "version")
        self.group_by.addItem("Group by model", "model")
        self.group_by.setToolTip("Side by side: each version's models, or each model's versions")
        self.group_by.currentIndexChanged.connect(lambda _i: self._apply_grouping())
        self.fit_button = QPushButton("Fit columns")
        self.fit_button.setToolTip("Make the columns fill the width, or fit their numbers")
        self.fit_button.clicked.connect(self.fit_columns)
        self.export_grid_button = QPushButton("Export grid…")
        self.export_grid_button.clicked.connect(self._export_grid_dialog)
        self.export_chart_button = QPushButton("Export chart…")
        self.export_chart_button.clicked.connect(self._export_chart_dialog)
        status.addWidget(self.progress)
        status.addWidget(self.status, 1)
        # The grid's own tools on a row of their own: beside the status line they would
        # squeeze it (or widen the window) at 1024 px.
        tools_box = QWidget()
        tools = QHBoxLayout(tools_box)
        tools.setContentsMargins(0, 0, 0, 0)
        tools.addWidget(self.failures_only)
        tools.addWidget(self.differences_only)
        tools.addWidget(self.group_by)
        tools.addWidget(self.filter_note, 1)
        tools.addWidget(self.fit_button)
        tools.addWidget(self.export_grid_button)
        tools.addWidget(self.export_chart_button)

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
        header.sectionResized.connect(self._on_section_resized)
        self.grid.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.grid.verticalHeader().setDefaultSectionSize(self.delegate.cell_height())
        self.grid.selectionModel().selectionChanged.connect(self._on_cell_selection)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        fit = QAction("Fit columns", self.grid)
        fit.triggered.connect(self.fit_columns)
        self.grid.addAction(fit)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.summary_model = SummaryModel()
        self.summary_proxy = QSortFilterProxyModel(self)
        self.summary_proxy.setSourceModel(self.summary_model)
        self.summary_proxy.setSortRole(SORT_ROLE)
        self.summary = FrozenColumnsTable(SummaryModel.KEY_COLUMNS)
        self.summary.setObjectName("summaryTable")
        self.summary.setModel(self.summary_proxy)
        self.summary.setSortingEnabled(True)
        self.summary.verticalHeader().hide()
        self.summary.setAlternatingRowColors(True)
        self.summary.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.summary.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.summary.horizontalHeader().setStretchLastSection(False)
        self.summary.horizontalHeader().setSortIndicatorShown(True)
        self.summary.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the model's own order
        self.charts = ChartsPanel()
        self.cell_view = CellDetail()
        self.cell_diff = OutputDiffView()
        self.tabs.addTab(self.summary, "Summary")
        self.tabs.addTab(self.charts, "Charts")
        self.tabs.addTab(self.cell_view, "Cell")
        self.tabs.addTab(self.cell_diff, "Diff two cells")

        # One vertical splitter: the setup keeps at least its lists' minimum (the
        # add-model row is always in view) and gives the grid the rest as it grows.
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.setSpacing(6)
        top_layout.addWidget(setup, 1)
        top_layout.addWidget(status_box)
        top_layout.addWidget(tools_box)
        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        self.splitter = split
        split.addWidget(top)
        split.addWidget(self.grid)
        split.addWidget(self.tabs)
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
        self.versions_list.blockSignals(True)
        self.versions_list.clear()
        self.labels = {}
        newest = list(reversed(versions))
        remembered = set(self._recalled_versions(name)) & {v.id for v in versions}
        for i, v in enumerate(newest):
            self.labels[v.id] = v.display_number
            on = v.id in remembered if remembered else i < 2  # else the newest two
            _add_check(self.versions_list, f"{v.display_number}  {v.message}", v.id, on,
                       f"{v.display_number} by {v.author}")  # fmt: skip
        self.versions_list.blockSignals(False)
        self.set_cases(cases)
        self.reload_models()

    def clear_run(self) -> None:
        """Show nothing of a run: another prompt was chosen."""
        self.last_run = None
        self.grid_model.clear()
        self._measure([], reset=True)
        self._clear_results()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self._done = self._total = 0
        self._cost = CostTotal()
        self.status.setText("Choose versions, models and test cases, then Run.")

    def _clear_results(self) -> None:
        self.summary_model.set_cells([], {})
        self.charts.set_cells([], {})
        self.cell_view.clear()
        self.cell_diff.clear()

    def set_cases(self, cases: list[TestCase]) -> None:
        self.cases_list.blockSignals(True)
        self.cases_list.clear()
        if not cases:
            (defaults,) = cases_or_defaults(cases)
            _add_check(self.cases_list, "defaults only (no test cases yet)", defaults, True)
        for case in cases:
            values = ", ".join(f"{k}={v}" for k, v in case.values.items())
            _add_check(self.cases_list, case.name or "(unnamed)", case, True, values)
        self.cases_list.blockSignals(False)
        self._estimate_timer.start()

    def reload_models(self) -> None:
        checked = {str(m) for m in _checked(self.models_list)} or set(
            self._recalled_models() or self.default_models()
        )
        self.models_list.blockSignals(True)
        self.models_list.clear()
        seen: list[str] = []
        # A ticked model stays on offer even when no profile lists it (typed with Add).
        for m in [*self.default_models(), *self.available_models(), *sorted(checked)]:
            if m not in seen:
                seen.append(m)
        for m in seen:
            note = "  (echo: not a real model)" if m.startswith("echo:") else ""
            _add_check(self.models_list, m + note, m, m in checked)
        self.models_list.blockSignals(False)
        # Asked again even when the choice is the same: a profile's prices may have changed.
        self._estimate_timer.start()

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
        self._remember()

    # ---- choices remembered between sessions -----------------------------------------

    def _recall(self, key: str) -> object:
        if self.memory is None:
            return None
        try:
            return json.loads(str(self.memory.value(f"compare/{key}", "null")))
        except ValueError:
            return None  # a damaged entry: the defaults apply

    def _recalled_models(self) -> list[str]:
        value = self._recall("models")
        return [str(m) for m in value] if isinstance(value, list) else []

    def _recalled_versions(self, prompt: str | None) -> list[uuid.UUID]:
        value = self._recall("versions")
        ids = value.get(prompt, []) if isinstance(value, dict) and prompt else []
        out = []
        for text in ids if isinstance(ids, list) else []:
            try:
                out.append(uuid.UUID(str(text)))
            except ValueError:
                continue
        return out

    def _recall_options(self) -> None:
        value = self._recall("options")
        if not isinstance(value, dict):
            return
        repeats = value.get("repeats")
        if isinstance(repeats, int):
            self.repeats.setValue(repeats)
        self.use_cache.setChecked(bool(value.get("use_cache")))
        self.failures_only.setChecked(bool(value.get("failures_only")))
        self.differences_only.setChecked(bool(value.get("differences_only")))
        index = self.group_by.findData(value.get("group_by"))
        if index >= 0:
            self.group_by.setCurrentIndex(index)

    def _remember(self) -> None:
        """Write the current choices, so the next session (and Ctrl+R at once) runs what
        was ticked, not the defaults."""
        if self.memory is None:
            return
        if self.models_list.count():  # no prompt shown yet: nothing offered, keep the old
            models = [str(m) for m in _checked(self.models_list)]
            self.memory.setValue("compare/models", json.dumps(models))
        if self.prompt is not None:
            value = self._recall("versions")
            versions = value if isinstance(value, dict) else {}
            versions.pop(self.prompt, None)
            versions[self.prompt] = [str(v) for v in _checked(self.versions_list)]
            kept = dict(list(versions.items())[-REMEMBERED_PROMPTS:])  # the latest prompts
            self.memory.setValue("compare/versions", json.dumps(kept))
        options = {
            "repeats": self.repeats.value(),
            "use_cache": self.use_cache.isChecked(),
            "failures_only": self.failures_only.isChecked(),
            "differences_only": self.differences_only.isChecked(),
            "group_by": self.group_by.currentData(),
        }
        self.memory.setValue("compare/options", json.dumps(options))

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
        if self.preflight is None:
            self.status.setText(f"{calls_text(spec.total_cells)} · Run (Ctrl+R)")
            return
        try:
            _spec, estimate = self.preflight(spec)
        except WorkbenchError as exc:
            self.status.setText(f"{calls_text(spec.total_cells)} · cannot run: {exc}")
            return
        unknown = set(estimate.unknown_price_models)
        priced = tuple(m for m in spec.models if str(m) not in unknown)
        priced_cost = estimate.cost_usd
        if unknown and priced:  # the same estimate over the models that have a price
            try:
                priced_cost = self.preflight(spec.model_copy(update={"models": priced}))[1].cost_usd
            except WorkbenchError:
                priced_cost = None
        line = estimate_text(estimate, spec, priced_cost)
        if unknown:
            line += " · give them a price in Settings → Providers → Prices"
        self.status.setText(f"{line} · Run (Ctrl+R)")

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
        self._estimate_timer.stop()
        self.last_run = None
        self.grid_model.set_spec(spec, self.labels)
        self._apply_grouping()
        self._measure([], reset=True)
        self._clear_results()
        self._user_sized = False
        self._size_rows()
        self.fit_columns()
        self.progress.setRange(0, spec.total_cells)
        self.progress.setValue(0)
        self._done, self._total, self._cost = 0, spec.total_cells, CostTotal()
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._clock.start()
        self._update_status()

    # ---- column and row sizes --------------------------------------------------------

    def header_width(self, section: int) -> int:
        """Width the column's header needs to show its every line whole."""
        header = self.grid.horizontalHeader()
        text = self.grid_model.headerData(section, Qt.Orientation.Horizontal) or ""
        font = QFont(header.font())
        font.setBold(True)  # the header of the selected cell's column is drawn bold
        fm = QFontMetrics(font)
        margin = header.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header)
        return max((fm.horizontalAdvance(t) for t in text.splitlines()), default=0) + 4 * margin

    def needed_width(self, column: int) -> int:
        """The narrowest the column can be with no number and no header line cut."""
        model = self.grid_model
        need = self.header_width(column)
        if column < len(model.columns):  # its cells and its total, measured as they came
            return max(
                need,
                self.delegate.min_cell_width(),
                self._cell_widths.get(column, 0),
                self._col_total_widths.get(column, 0),
            )
        corner = self.delegate.readout_width(model.index(len(model.rows), column))
        return max(need, corner, *self._row_total_widths.values())

    def _measure(self, cells: Sequence[CellResult], reset: bool = False) -> None:
        """Note how wide the readouts of newly finished cells and of the totals they
        change are: each cell once, each total once per batch that changes it."""
        if reset:
            self._cell_widths, self._col_total_widths, self._row_total_widths = {}, {}, {}
        model = self.grid_model
        rows, cols = set(), set()
        for cell in cells:
            pos = model.position(cell.key)
            if pos is not None:
                width = self.delegate.lines_width(cell_lines(cell))
                self._cell_widths[pos[1]] = max(self._cell_widths.get(pos[1], 0), width)
                rows.add(pos[0])
                cols.add(pos[1])
        for c in cols:
            index = model.index(len(model.rows), c)
            self._col_total_widths[c] = self.delegate.readout_width(index)
        for r in rows:
            index = model.index(r, len(model.columns))
            self._row_total_widths[r] = self.delegate.readout_width(index)

    def _size_rows(self) -> None:
        vh = self.grid.verticalHeader()
        vh.setDefaultSectionSize(self.delegate.cell_height())
        if self.grid_model.rows:
            vh.resizeSection(len(self.grid_model.rows), self.delegate.total_height())

    def _resize(self, column: int, width: int) -> None:
        self._fitting = True
        try:
            self.grid.horizontalHeader().resizeSection(column, width)
        finally:
            self._fitting = False

    @Slot()
    def fit_columns(self) -> None:
        """Columns as wide as their numbers and headers need; when that leaves room,
        the version x model columns share the rest of the width (more output shows)."""
        count = self.grid_model.columnCount()
        if not count:
            return
        needs = [self.needed_width(c) for c in range(count)]
        data = len(self.grid_model.columns)
        room = self.grid.viewport().width() - sum(needs)
        if room > 0 and data:
            share, extra = divmod(room, data)
            for c in range(data):
                needs[c] += share + (1 if c < extra else 0)
        for c, width in enumerate(needs):
            self._resize(c, width)
        self._user_sized = False

    def _grow_columns(self) -> None:
        """Widen any column whose numbers would otherwise be cut (never narrows one)."""
        header = self.grid.horizontalHeader()
        for c in range(self.grid_model.columnCount()):
            need = self.needed_width(c)
            if header.sectionSize(c) < need:
                self._resize(c, need)

    @Slot(int, int, int)
    def _on_section_resized(self, _index: int, _old: int, _new: int) -> None:
        if not self._fitting:
            self._user_sized = True

    def _apply_filter(self) -> None:
        """Failures only / differences only: a test case is hidden once all its cells
        are in and none fails / all gave the same answer (both: either hides it)."""
        failures, differences = self.failures_only.isChecked(), self.differences_only.isChecked()
        model = self.grid_model
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

    def _apply_grouping(self) -> None:
        """Put the columns side by side as "Group by" says (the view's order only: the
        model, its exports and the totals keep the run's order)."""
        header = self.grid.horizontalHeader()
        order = self.grid_model.column_order(str(self.group_by.currentData()))
        for visual, logical in enumerate(order):
            header.moveSection(header.visualIndex(logical), visual)

    @Slot(object)
    def _on_batch(self, batch: Batch) -> None:
        self.grid_model.apply(batch.deltas, batch.cells)
        self._measure(batch.cells)
        if batch.cells:
            self._done, self._total = batch.done, batch.total
            self._cost += cost_total(batch.cells)
            self.progress.setValue(batch.done)
            self._grow_columns()
            if not self._summary_timer.isActive():
                self._summary_timer.start()
            if self.failures_only.isChecked() or self.differences_only.isChecked():
                self._apply_filter()
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
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
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
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.grid_model.finish("failed")
        self.status.setText("The run failed: " + str(exc))
        self._show_results()
        self.reporter.report(exc, "run the comparison")

    @Slot()
    def _refresh_summary(self) -> None:
        if self.controller.running:
            self.summary_model.set_cells(self.grid_model.all_cells(), self.labels)

    def _show_results(self) -> None:
        self._summary_timer.stop()
        cells = self.grid_model.all_cells()
        self.summary_model.set_cells(cells, self.labels)
        run = self.last_run
        partial = partial_note(run.status, len(cells), run.spec.total_cells) if run else ""
        self.charts.set_cells(cells, self.labels, partial)
        if self._user_sized:
            self._grow_columns()
        else:
            self.fit_columns()
        self._apply_filter()

    def show_run(self, run: Run, labels: Mapping[uuid.UUID, str]) -> None:
        """Show a past run from the vault; no model is called."""
        self.labels = {**{v: v.hex[:8] for v in run.spec.version_ids}, **labels}
        self.last_run = run
        self.grid_model.set_spec(run.spec, self.labels)
        self._apply_grouping()
        self.grid_model.apply({}, run.cells)
        self.grid_model.finish(run.status)
        self._measure(run.cells, reset=True)
        self._clear_results()
        self._size_rows()
        self._user_sized = False
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
            self.cell_diff.show_outputs(
                a.output if a.ok else f"error: {a.error}",
                b.output if b.ok else f"error: {b.error}",
                self.cell_name(a),
                self.cell_name(b),
            )
            self.tabs.setCurrentWidget(self.cell_diff)

    def show_cell(self, cell: CellResult) -> None:
        case = self.grid_model.case(cell)
        messages: list[dict[str, str]] = [dict(m) for m in cell.rendered]
        note = ""
        if not messages:
            messages, note = self._render_for(cell, case)
        self.cell_view.show_cell(self.cell_name(cell), cell, case, messages, note)

    def _render_for(
        self, cell: CellResult, case: TestCase | None
    ) -> tuple[list[dict[str, str]], str]:
        """The messages a cell's call sent, when the cell did not record them: rendered
        again from its version with the engine's own function."""
        version = self.versions.get(cell.key.version_id)
        if version is None or case is None:
            return [], "Not recorded with this cell, and its version is not loaded."
        try:
            rendered = render_messages(version.content, case.values)
        except WorkbenchError as exc:
            return [], f"The prompt does not render for this case: {exc}"
        note = "Rendered again from the version (the cell did not record them)."
        return [m.model_dump() for m in rendered], note

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


def calls_text(calls: int) -> str:
    return counted(calls, "call")


def estimate_text(estimate: Estimate, spec: RunSpec, priced_cost: float | None = None) -> str:
    """ "27 calls, ≈ $0.0123", and how many calls have no price and are not counted
    (``priced_cost``: the estimate of the calls that have one)."""
    head = calls_text(estimate.calls)
    unknown = estimate.unknown_price_models
    broken = ""
    if estimate.unrenderable_calls:  # they fail at once, calling no model
        first = estimate.render_errors[0] if estimate.render_errors else "does not render"
        broken = f" · {estimate.unrenderable_calls:,} will not render: {first}"
    # What the run header of the CLI says too: a profile that lowers the concurrency,
    # and budgets this run brings near their cap.
    extra = "".join(f" · {c}" for c in (*estimate.concurrency_caps, *estimate.warnings))
    if not unknown:
        return f"{head}, ≈ {fmt_usd(estimate.cost_usd)}{broken}{extra}"
    per_model = spec.total_cells // max(1, len(spec.models))
    unpriced = per_model * len(unknown)
    cost = "cost unknown" if priced_cost is None else f"≈ {fmt_usd(priced_cost)}"
    return f"{head}, {cost} ({unpriced:,} unpriced: {', '.join(unknown)}){broken}{extra}"


__all__ = ["ComparePanel", "estimate_text"]
