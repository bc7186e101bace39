"""The main window: vault browser on the left; editor, history, test cases,
compare, runs, review queue and sync in tabs; menus, shortcuts, remembered layout.

This module composes the window: it builds the panels, lays them out, wires their
signals and builds the menus. What the window does lives in its parts:
:mod:`~workbench.ui.window_actions` (prompts, runs, settings, Edit and History menus),
:mod:`~workbench.ui.window_transfer` (bundle import and export, write progress),
:mod:`~workbench.ui.window_sync` (sync, review, publish) and
:mod:`~workbench.ui.window_help` (shortcuts, README, About)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QMoveEvent, QResizeEvent
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QMenu,
    QProgressBar,
    QSplitter,
    QTabWidget,
    QToolButton,
    QWidget,
)

from workbench.app.budget import preflight
from workbench.app.models import ModelCache
from workbench.engine.runner import Engine
from workbench.providers.profiles import ProviderProfile
from workbench.secrets.store import SecretStore
from workbench.settings import Settings
from workbench.ui.browser import VaultBrowser
from workbench.ui.compare import ComparePanel
from workbench.ui.editor import EditorPanel
from workbench.ui.errors import ErrorReporter
from workbench.ui.history import HistoryPanel
from workbench.ui.log_view import LogPanel, SpendingView
from workbench.ui.model_lists import ModelLists
from workbench.ui.ops import VaultWriter
from workbench.ui.production_view import ProductionView
from workbench.ui.regression_view import RegressionBox
from workbench.ui.review import ReviewPanel
from workbench.ui.runs import RunsPanel
from workbench.ui.sources_view import SourcesDialog
from workbench.ui.stores import CaseStore, DraftStore
from workbench.ui.sync_panel import (
    DEFAULT_INTERVAL_S,
    SyncController,
    SyncOutcome,
    SyncPanel,
)
from workbench.ui.testcases import TestCasePanel
from workbench.ui.window_actions import WindowActions
from workbench.ui.window_help import WindowHelp
from workbench.ui.worker import RunController
from workbench.vault import Vault

SIDEBAR_WIDTH = 260
"""The vault browser's first width; it keeps its width when the window or a tab grows."""
TABS_MIN_WIDTH = 520
"""The tabs' floor: a wide run grid scrolls inside instead of squeezing the sidebar."""


class MainWindow(WindowActions, WindowHelp):
    """Everything is injected, so tests never touch the real keychain or settings file."""

    def __init__(
        self,
        vault: Vault,
        settings: Settings,
        *,
        engine_factory: Callable[[], Engine],
        profiles: Callable[[], Mapping[str, ProviderProfile]],
        secrets: Callable[[], SecretStore],
        data_dir: Path,
        save_settings: Callable[[Settings], None] = lambda _s: None,
        qsettings: QSettings | None = None,
        sync_interval_s: int = DEFAULT_INTERVAL_S,
    ) -> None:
        super().__init__()
        self.vault = vault
        self.settings = settings
        self.profiles = profiles
        self.secrets = secrets
        self._save_settings = save_settings
        self.qsettings = qsettings or QSettings("prompt-workbench", "workbench")
        # The file name and "[*]"; Qt adds " — <application display name>" itself.
        self.setWindowTitle(f"{vault.path.name}[*]")
        self.setObjectName("mainWindow")
        self.reporter = ErrorReporter(self)
        self.reporter.shown.connect(lambda title, _t: self.statusBar().showMessage(title, 8000))
        self.drafts = DraftStore(data_dir / "drafts")
        self.model_lists = ModelLists(
            lambda: self.settings, secrets, ModelCache(data_dir / "model-lists"), self
        )
        self.writer = VaultWriter(self.reporter, self)
        """Every write of the window to its vault, one at a time (workbench.ui.ops)."""
        self.sources_dialog: SourcesDialog | None = None
        self.cases = CaseStore(vault, self.writer)
        self.controller = RunController(self)

        self.writer.busy_changed.connect(self._writer_busy)
        self.writer.waiting_changed.connect(lambda _n: self._show_progress())
        self.import_stage.connect(self._on_import_stage)
        self.browser = VaultBrowser(vault, self.reporter)
        self.editor = EditorPanel(
            vault, self.drafts, self.cases, self.reporter, profiles, self.default_models,
            writer=self.writer,
        )  # fmt: skip
        self.history = HistoryPanel(vault)
        self.testcases = TestCasePanel(self.cases, self.reporter)
        self.compare = ComparePanel(
            self.controller, self.reporter, self.available_models, self.default_models,
            lambda: self.settings.concurrency,
            preflight=lambda spec: preflight(engine_factory(), spec, self.settings.budgets),
            memory=self.qsettings,
        )  # fmt: skip
        self.runs = RunsPanel(vault)
        self.log_panel = LogPanel(vault, self.reporter)
        self.spending = SpendingView(vault, self.reporter)
        self.log_tabs = QTabWidget()
        self.log_tabs.setObjectName("logTabs")
        self.log_tabs.setDocumentMode(True)
        self.log_tabs.addTab(self.log_panel, "Calls")
        self.log_tabs.addTab(self.spending, "Spending")
        self.production = ProductionView(self.registry_connection())
        self.log_tabs.addTab(self.production, "Production")
        self.review_runs = RunController(self)
        """The Review panel's regression runs: apart from Compare's, so its grid never
        shows them (the app gives it the engine process, started at its first run)."""
        self.regression = RegressionBox(
            vault, self.reporter, self.review_runs, self.default_models,
            preflight=lambda spec: preflight(engine_factory(), spec, self.settings.budgets),
            concurrency=lambda: self.settings.concurrency,
        )  # fmt: skip
        self.review = ReviewPanel(vault, self.reporter, self.writer, self.regression)
        self.sync_panel = SyncPanel(vault, self.reporter, self.writer)
        self.sync = SyncController(
            vault, self.registry_connection, sync_interval_s, self, writer=self.writer
        )
        self.publish_dialog: QWidget | None = None
        self._last_outcome: SyncOutcome | None = None

        self.tabs = QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.tabs.addTab(self.editor, "Editor")
        self.tabs.addTab(self.history, "History")
        self.tabs.addTab(self.testcases, "Test cases")
        self.tabs.addTab(self.compare, "Compare")
        self.tabs.addTab(self.runs, "Runs")
        self.tabs.addTab(self.log_tabs, "Log")
        self.tabs.addTab(self.review, "Review")
        self.tabs.addTab(self.sync_panel, "Sync")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.browser)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setCollapsible(0, False)
        self.splitter.setCollapsible(1, False)
        # An explicit floor: the tabs' own size hint grows with what they show (a run
        # with many columns) and the splitter would take the difference from the sidebar.
        self.tabs.setMinimumWidth(TABS_MIN_WIDTH)
        self.splitter.setSizes([SIDEBAR_WIDTH, 1100])
        self.splitter.setContentsMargins(8, 8, 8, 4)
        self.setCentralWidget(self.splitter)
        self.sync_badge = QLabel("")
        self.sync_badge.setObjectName("dimLabel")
        self.statusBar().addPermanentWidget(self.sync_badge)
        self.sync_button = QToolButton()
        self.sync_button.setObjectName("syncButton")
        self.sync_button.setText("⟳ Sync")
        self.sync_button.setToolTip("Sync with the team registry now (F5)")
        self.sync_button.setAutoRaise(True)
        self.sync_button.clicked.connect(lambda: self.sync_now())
        self.statusBar().addPermanentWidget(self.sync_button)
        self._import_stage = None  # the running import's step, from its child process
        self.write_progress = QProgressBar()
        self.write_progress.setObjectName("writeProgress")
        self.write_progress.setRange(0, 0)  # busy: SQLite's one transaction has no steps
        self.write_progress.setTextVisible(True)
        self.write_progress.setMaximumWidth(320)
        self.write_progress.hide()
        self.statusBar().addPermanentWidget(self.write_progress)
        self.vault_label = QLabel(str(vault.path))
        self.vault_label.setObjectName("dimLabel")
        self.statusBar().addPermanentWidget(self.vault_label)

        self.browser.prompt_selected.connect(self.show_prompt)
        self.browser.vault_empty.connect(self.editor.show_vault_empty)
        self.browser.first_step.connect(self.first_step)
        self.editor.first_step.connect(self.first_step)
        self.browser.new_requested.connect(lambda: self.new_prompt())
        self.browser.export_requested.connect(lambda name: self.export_bundle(names=[name]))
        self.editor.committed.connect(self._on_committed)
        self.editor.before_commit = self.ensure_author
        self.editor.commit_refused.connect(self._on_commit_refused)
        self.editor.draft_state.connect(self.browser.model.set_draft)
        self.editor.draft_state.connect(self._on_draft_state)
        self.history.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.history.table.customContextMenuRequested.connect(self._history_menu)
        self.context_menu: QMenu | None = None
        self.shortcuts_dialog: QDialog | None = None
        self.readme_dialog: QDialog | None = None
        self._layout_timer = QTimer(self, singleShot=True, interval=500)
        self._layout_timer.timeout.connect(self.save_layout)
        self.splitter.splitterMoved.connect(lambda _p, _i: self._layout_timer.start())
        self.tabs.currentChanged.connect(lambda _i: self._layout_timer.start())
        self.history.restore_requested.connect(self._restore)
        self.testcases.cases_changed.connect(self._on_cases_changed)
        self.runs.open_requested.connect(self.open_run)
        self.compare.run_finished.connect(lambda _r: self.runs.reload())
        self.compare.run_finished.connect(lambda _r: self._reload_log())
        self.tabs.currentChanged.connect(lambda _i: self._reload_log(only_shown=True))
        self.log_tabs.currentChanged.connect(lambda _i: self._reload_log(only_shown=True))
        self.model_lists.changed.connect(lambda _l: self.compare.reload_models())
        self.model_lists.changed.connect(
            lambda found: self.statusBar().showMessage(ModelLists.summary(found), 8000)
        )
        self.compare.refresh_models_requested.connect(lambda: self.model_lists.refresh())
        self.sync.started.connect(self._on_sync_started)
        self.sync.finished.connect(self._on_synced)
        self.sync_panel.sync_requested.connect(self.sync_now)
        self.sync_panel.dismissed.connect(self.refresh_sync_state)
        self.review.decided.connect(lambda _v: self._after_decision())
        self._build_menus()
        self.resize(1400, 860)
        self._restore_layout()
        self.browser.reload()
        self.browser.model.set_drafts(self.drafts.prompts())
        self.runs.reload()
        self.review.reload()
        if self.registry_connection().configured:
            self.refresh_sync_state()
            self.sync.sync_now(manual=False)
        self.model_lists.refresh(only_missing=True)  # profiles never listed (e.g. from the CLI)
        self._layout_ready = True

    # ---- models offered --------------------------------------------------------------

    def default_models(self) -> list[str]:
        return list(self.settings.default_models) or ["echo:echo"]

    def available_models(self) -> list[str]:
        """What the profiles' servers listed (cached) plus the names typed in them."""
        return self.model_lists.available()

    # ---- menus -----------------------------------------------------------------------

    def _action(
        self,
        text: str,
        slot: Callable[[], object],
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        file.addAction(self._action("&New prompt…", self.new_prompt, QKeySequence.StandardKey.New))
        file.addSeparator()
        file.addAction(self._action("&Import bundle…", self.import_bundle, "Ctrl+Shift+I"))
        file.addAction(self._action("&Export bundle…", self.export_bundle, "Ctrl+Shift+E"))
        file.addAction(self._action("Load &sample prompts", self.load_samples))
        file.addSeparator()
        file.addAction(
            self._action(
                "Add a &provider…",
                self.open_settings,
                tip="Settings: the model providers you compare with, and their keys",
            )
        )
        file.addAction(self._action("&Settings…", self.open_settings, "Ctrl+,"))
        file.addAction(
            self._action(
                "&Data sources…",
                self.open_sources,
                tip="The files, databases and web services prompt variables are bound to",
            )
        )
        file.addSeparator()
        file.addAction(self._action("&Quit", self.close, QKeySequence.StandardKey.Quit))
        edit = bar.addMenu("&Edit")
        for text, op, key in (
            ("&Undo", "undo", QKeySequence.StandardKey.Undo),
            ("&Redo", "redo", QKeySequence.StandardKey.Redo),
            (None, "", None),
            ("Cu&t", "cut", QKeySequence.StandardKey.Cut),
            ("&Copy", "copy", QKeySequence.StandardKey.Copy),
            ("&Paste", "paste", QKeySequence.StandardKey.Paste),
            ("Select &all", "selectAll", QKeySequence.StandardKey.SelectAll),
            (None, "", None),
        ):
            if text is None:
                edit.addSeparator()
                continue
            edit.addAction(self._action(text, functools.partial(self.edit_focused, op), key))
        self.commit_action = self._action(
            "&Commit", self.editor.commit, QKeySequence.StandardKey.Save, "Commit a new version"
        )
        edit.addAction(self.commit_action)
        edit.addAction(
            self._action("&Find prompt", self.focus_search, QKeySequence.StandardKey.Find)
        )
        edit.addAction(self._action("Discard edits", self.editor.discard_draft))
        edit.addAction(
            self._action(
                "Continue from selected version",
                self.continue_from,
                "Ctrl+Shift+B",
                "Make the version selected in History the parent of the next commit "
                "(e.g. either head of a fork)",
            )
        )
        self.editor.commit_state.connect(self._on_commit_state)
        run = bar.addMenu("&Run")
        run.addAction(self._action("&Run comparison", self.run_compare, "Ctrl+R"))
        run.addAction(self._action("&Cancel run", self.compare.cancel_run, "Ctrl+."))
        registry = bar.addMenu("Re&gistry")
        self.sync_action = self._action(
            "&Sync now", self.sync_now, "F5", "Push local versions and decisions, pull the team's"
        )
        registry.addAction(self.sync_action)
        registry.addAction(
            self._action(
                "&Publish…", self.open_publish, "Ctrl+Shift+P", "Move a label onto a version"
            )
        )
        registry.addAction(
            self._action("&Review queue", lambda: self.tabs.setCurrentWidget(self.review))
        )
        view = bar.addMenu("&View")
        tab_names = ("Editor", "History", "Test cases", "Compare", "Runs", "Review", "Sync")
        for i, name in enumerate(tab_names):
            view.addAction(
                self._action(name, functools.partial(self._show_tab, i), f"Ctrl+{i + 1}")
            )
        help_ = bar.addMenu("&Help")
        help_.addAction(
            self._action("&Keyboard shortcuts", self.show_shortcuts, "Ctrl+/", "Every shortcut")
        )
        help_.addAction(self._action("&README (user guide)", self.show_readme, "F1"))
        help_.addSeparator()
        help_.addAction(self._action("&About Prompt Workbench", self.about))

    # ---- layout memory and closing ---------------------------------------------------

    _layout_ready = False

    def _restore_layout(self) -> None:
        geometry = self.qsettings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = self.qsettings.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        splitter = self.qsettings.value("window/splitter")
        if isinstance(splitter, QByteArray):
            self.splitter.restoreState(splitter)
        sizes = self.splitter.sizes()
        if sizes and sizes[0] < self.browser.MIN_WIDTH:  # an old, squeezed layout
            self.splitter.setSizes([SIDEBAR_WIDTH, max(sum(sizes) - SIDEBAR_WIDTH, 1)])
        tab = self.qsettings.value("window/tab")
        if tab is not None:
            self.tabs.setCurrentIndex(int(tab))

    def save_layout(self) -> None:
        """Window geometry and state, splitter sizes, the tab: saved on every change
        (after a short pause) and at close, so a crash or a kill loses nothing."""
        self.qsettings.setValue("window/geometry", self.saveGeometry())
        self.qsettings.setValue("window/state", self.saveState())
        self.qsettings.setValue("window/splitter", self.splitter.saveState())
        self.qsettings.setValue("window/tab", self.tabs.currentIndex())
        self.qsettings.sync()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._layout_ready and self.isVisible():
            self._layout_timer.start()

    def moveEvent(self, event: QMoveEvent) -> None:
        super().moveEvent(event)
        if self._layout_ready and self.isVisible():
            self._layout_timer.start()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Keep the draft, cancel a run and wait for the engine to write its cells."""
        self.editor.flush_draft()
        self.sync.shutdown()
        self.model_lists.shutdown()
        if self.controller.running:
            self.statusBar().showMessage("Cancelling the run; finished cells are kept…")
        self.controller.shutdown()  # the kept-warm engine process ends too
        self.review_runs.shutdown()
        self.writer.close()
        self.save_layout()
        super().closeEvent(event)


__all__ = ["MainWindow", "QWidget"]
