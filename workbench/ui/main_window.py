"""The main window: vault browser on the left; editor, history, test cases,
compare, runs, review queue and sync in tabs; menus, shortcuts, remembered layout.

Sync runs in the background (:class:`~workbench.ui.sync_panel.SyncController`); its
outcome fills the tree's badges, the status-bar summary, the Sync and Review tabs."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QByteArray, QPoint, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QMoveEvent, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.app.budget import preflight
from workbench.app.models import ModelCache
from workbench.assets import resource
from workbench.core.errors import UsageError, WorkbenchError
from workbench.core.files import write_atomic
from workbench.core.models import PromptVersion
from workbench.core.models import heads as find_heads
from workbench.core.runs import Run
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
from workbench.ui.ops import VaultWriter, run_in_thread
from workbench.ui.production_view import ProductionView
from workbench.ui.regression_view import RegressionBox
from workbench.ui.review import ReviewPanel
from workbench.ui.runs import RunsPanel
from workbench.ui.sources_view import SourcesDialog
from workbench.ui.stores import CaseStore, Draft, DraftStore
from workbench.ui.sync_panel import (
    BADGES,
    DEFAULT_INTERVAL_S,
    RegistryConnection,
    SyncController,
    SyncOutcome,
    SyncPanel,
)
from workbench.ui.testcases import TestCasePanel
from workbench.ui.worker import RunController
from workbench.vault import ImportReport, Vault
from workbench.vault.bundle import Bundle
from workbench.vault.runs import RunStore


def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("prompt-workbench")
    except PackageNotFoundError:
        return "dev"


SAMPLE_BUNDLE = resource("sample-bundle.json")  # checkout, wheel or frozen build
README_PATH = Path(__file__).resolve().parents[2] / "README.md"

SIDEBAR_WIDTH = 260
"""The vault browser's first width; it keeps its width when the window or a tab grows."""
TABS_MIN_WIDTH = 520
"""The tabs' floor: a wide run grid scrolls inside instead of squeezing the sidebar."""

EXTRA_SHORTCUTS = (
    ("Escape (in the search box)", "Clear the search"),
    ("Tab (in the search box)", "Go to the results"),
    ("Enter (in the commit message)", "Commit"),
    ("Right-click a prompt or a version", "More actions"),
)
"""Keys the shortcuts dialog lists besides the menus' own."""


def readme_text() -> str:
    """The README: the checkout's file, else the installed package's long description."""
    if README_PATH.exists():
        return README_PATH.read_text("utf-8")
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        meta = metadata("prompt-workbench")
    except PackageNotFoundError:
        return ""
    body = str((meta.get_all("Description") or [""])[0])
    if not body:  # metadata 2.1+: the long description is the message body
        payload = getattr(meta, "get_payload", None)
        body = str(payload()) if callable(payload) else ""
    return body


class MainWindow(QMainWindow):
    """Everything is injected, so tests never touch the real keychain or settings file."""

    bundle_imported = Signal(object)
    """An import finished (the ImportReport)."""

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
        self._reading = ""  # "reading x.json" while an import's file is read
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

    @Slot(bool, str)
    def _on_commit_state(self, enabled: bool, reason: str) -> None:
        # Kept enabled with a prompt open, so Ctrl+S says what is missing.
        self.commit_action.setEnabled(self.editor.prompt is not None)
        self.commit_action.setStatusTip(reason or "Commit a new version")

    @Slot(str)
    def _on_commit_refused(self, reason: str) -> None:
        self.statusBar().showMessage(f"Cannot commit yet: {reason}", 10_000)

    @Slot(str, bool)
    def _on_draft_state(self, name: str, has_draft: bool) -> None:
        if name == self.editor.prompt:
            self.setWindowModified(has_draft)

    def edit_focused(self, op: str) -> None:
        """Undo, Redo, Cut, Copy, Paste or Select all on the focused widget.

        Text fields handle these keys themselves; this reaches them from the menu, and
        copies the current cell of a list or table."""
        widget = QApplication.focusWidget()
        if widget is None:
            return
        if isinstance(widget, QAbstractItemView) and op == "copy":
            index = widget.currentIndex()
            text = index.data() if index.isValid() else None
            clipboard = QApplication.clipboard()
            if isinstance(text, str) and clipboard is not None:
                clipboard.setText(text)
            return
        method = getattr(widget, op, None)
        if callable(method):
            method()

    @Slot(str)
    def first_step(self, key: str) -> None:
        """An empty state's button: load the samples, a new prompt, or add a provider."""
        if key == "samples":
            self.load_samples()
        elif key == "new":
            self.new_prompt()
        elif key == "provider":
            self.open_settings()

    @Slot(QPoint)
    def _history_menu(self, pos: QPoint) -> None:
        table = self.history.table
        index = table.indexAt(pos)
        if index.isValid() and index.row() not in {
            i.row() for i in table.selectionModel().selectedRows()
        }:
            self.history.select_versions([index.row()])
        chosen = self.history.selected_versions()
        rows = sorted({i.row() for i in table.selectionModel().selectedRows()})
        menu = QMenu(table)
        if len(chosen) == 1:
            menu.addAction("Diff with its parent", lambda: self.show_history_diff(rows))
        if len(chosen) == 2:
            menu.addAction(
                f"Diff {chosen[1].display_number} → {chosen[0].display_number}",
                lambda: self.show_history_diff(rows),
            )
        if chosen:
            ids = [v.id for v in chosen]
            menu.addAction("Compare in the Compare tab", lambda: self.compare_versions(ids))
        if len(chosen) == 1:
            version = chosen[0]
            menu.addAction("Restore as draft", lambda: self._restore(version))
            menu.addAction("Continue from this version", lambda: self.continue_from(version))
        self.context_menu = menu
        menu.popup(table.viewport().mapToGlobal(pos))

    def show_history_diff(self, rows: list[int]) -> None:
        """History with these rows selected: one is diffed with its parent, two together."""
        self.tabs.setCurrentWidget(self.history)
        self.history.select_versions(rows)

    def compare_versions(self, ids: list[uuid.UUID]) -> None:
        """Tick exactly these versions in Compare and show it."""
        self.compare.check_only(versions=ids)
        self.tabs.setCurrentWidget(self.compare)

    def _show_tab(self, index: int) -> None:
        self.tabs.setCurrentIndex(index)

    # ---- actions ---------------------------------------------------------------------

    @Slot(str)
    def show_prompt(self, name: str) -> None:
        try:
            self.editor.set_prompt(name)
            versions = self.vault.history(name)
            self.history.set_prompt(name)
            declared = self.editor.content.variables if self.editor.content else ()
            self.testcases.set_prompt(
                name,
                [r.name for r in declared if r.binding is None],  # bound: from a source
                {r.name for r in declared if r.sensitivity == "sensitive"},
            )
            self.compare.set_prompt(name, versions, self.cases.load(name))
            self.runs.set_prompt(name)
            self._note_fork(name, versions)
        except WorkbenchError as exc:
            self.reporter.report(exc, f"open {name}")

    def _note_fork(self, name: str, versions: list[PromptVersion]) -> None:
        """Say so when two versions share a parent: nothing was merged, pick a head."""
        heads = find_heads(versions)
        if len(heads) > 1:
            shown = " and ".join(v.display_number for v in heads)
            self.statusBar().showMessage(
                f"⑂ {name} is forked: {shown} are both heads. Pick one in History, then "
                "Ctrl+Shift+B (Edit menu) to continue from it.",
                15000,
            )

    def new_prompt(self, name: str | None = None) -> None:
        if name is None:
            name, ok = QInputDialog.getText(
                self, "New prompt", "Name (folders with '/', e.g. support/reply):"
            )
            if not ok or not name.strip():
                return
        name = name.strip()
        try:
            self.vault.create_prompt(name)
        except WorkbenchError as exc:
            self.reporter.report(exc, "create the prompt")
            return
        self.browser.search.clear()
        self.browser.reload()
        self.browser.select(name)
        self.show_prompt(name)
        self.tabs.setCurrentWidget(self.editor)
        self.editor.save_draft()

    def _reload_log(self, only_shown: bool = False) -> None:
        """The Log tab's page reads the vault again (when shown, with ``only_shown``)."""
        if only_shown and self.tabs.currentWidget() is not self.log_tabs:
            return
        page = self.log_tabs.currentWidget()
        if page is self.log_panel:
            self.log_panel.reload()
        elif page is self.spending:
            self.spending.reload()
        elif page is self.production:
            self.production.connection = self.registry_connection()
            self.production.set_prompt(self.browser.current_prompt() or self.editor.prompt)
            self.production.reload()

    @Slot(str)
    def _writer_busy(self, what: str) -> None:
        if what:
            self.statusBar().showMessage(f"Writing to the vault: {what}… (the window stays usable)")
        elif self.statusBar().currentMessage().startswith("Writing to the vault"):
            self.statusBar().clearMessage()  # not a message shown since (e.g. "Imported")
        self._show_progress()

    def _show_progress(self) -> None:
        """The status bar's busy bar: shown while a bundle is read or the vault written."""
        what = self._reading or self.writer.busy
        self.write_progress.setVisible(bool(what))
        self.write_progress.setFormat(what[:1].upper() + what[1:] + "…" if what else "")
        self.write_progress.setToolTip(
            f"{what[:1].upper() + what[1:]}: the window stays usable; a commit made now "
            "is written when this is done."
            if what
            else ""
        )

    def import_bundle(self, path: Path | None = None) -> None:
        """Add a JSON bundle's prompts, versions and test cases, off the GUI thread: the
        file is read and checked on a thread, then written by the vault writer."""
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(
                self, "Import bundle", "", "Prompt Workbench bundle (*.json)"
            )
            if not chosen:
                return
            path = Path(chosen)
        source = path

        def read() -> Bundle:
            from workbench.vault.bundle import parse_bundle

            return parse_bundle(source.read_bytes(), str(source))

        def write(bundle: Bundle) -> None:
            self._reading = ""
            self.writer.submit(
                f"importing {source.name}", lambda: self.vault.import_bundle(bundle), done, failed
            )
            self._show_progress()  # it may wait behind a sync round: still shown

        def done(report: ImportReport) -> None:
            self.browser.reload()
            self.statusBar().showMessage(
                f"Imported {report.versions_added} versions "
                f"({report.prompts_created} new prompts) from {source.name}",
                10_000,
            )
            self.bundle_imported.emit(report)

        def failed(exc: BaseException) -> None:
            self._reading = ""
            self._show_progress()
            if isinstance(exc, (WorkbenchError, OSError)):
                self.reporter.report(exc, "import the bundle")
            else:
                raise exc  # a bug: sys.excepthook shows the crash dialog

        self._reading = f"reading {source.name}"
        self._show_progress()
        run_in_thread(read, write, failed)

    def export_bundle(self, path: Path | None = None, names: list[str] | None = None) -> None:
        """Export the vault, or only the prompts ``names``, as a JSON bundle."""
        if path is None:
            suggested = (names[0].replace("/", "-") + ".json") if names else "prompts.json"
            chosen, _ = QFileDialog.getSaveFileName(
                self, "Export bundle", suggested, "Prompt Workbench bundle (*.json)"
            )
            if not chosen:
                return
            path = Path(chosen)
        try:
            data = self.vault.export_bundle(names).model_dump_json(indent=1) + "\n"
            write_atomic(path, data)
        except (WorkbenchError, OSError) as exc:
            self.reporter.report(exc, "export the bundle")
            return
        what = ", ".join(names) if names else "the vault"
        self.statusBar().showMessage(f"Exported {what} to {path}", 10_000)

    def load_samples(self) -> None:
        """A few realistic prompts with versions and test cases, to try things out."""
        if not SAMPLE_BUNDLE.exists():
            self.reporter.report(
                UsageError(
                    "the sample prompts are not installed with this build",
                    hint="Import a bundle instead (File → Import bundle…).",
                ),
                "load the sample prompts",
            )
            return
        self.import_bundle(SAMPLE_BUNDLE)

    def focus_search(self) -> None:
        self.browser.search.setFocus()
        self.browser.search.selectAll()

    def run_compare(self) -> None:
        self.tabs.setCurrentWidget(self.compare)
        self.compare.start_run()

    @Slot(object)
    def _on_committed(self, version: PromptVersion) -> None:
        self.history.reload()
        if self.registry_connection().configured:
            self.refresh_sync_state()
        self.compare.set_prompt(
            version.prompt, self.vault.history(version.prompt), self.cases.load(version.prompt)
        )
        if self.testcases.prompt == version.prompt:  # a variable may have become sensitive
            declared = version.content.variables
            self.testcases.set_prompt(
                version.prompt,
                [v.name for v in declared if v.binding is None],  # bound: from a source
                {v.name for v in declared if v.sensitivity == "sensitive"},
            )
        self.statusBar().showMessage(
            f"Committed {version.display_number} of {version.prompt}", 6000
        )

    @Slot(object)
    def _restore(self, version: PromptVersion) -> None:
        self.editor.load_content(
            version.content,
            f"Restored {version.display_number} as unsaved edits: commit to keep it.",
        )
        self.tabs.setCurrentWidget(self.editor)

    @Slot()
    def _on_cases_changed(self) -> None:
        if self.editor.prompt:
            self.editor.cases_changed()
            self.compare.set_cases(self.cases.load(self.editor.prompt))

    @Slot(object)
    def open_run(self, run_id: uuid.UUID) -> Run | None:
        try:
            run = RunStore(self.vault).load(run_id)
            labels = {v.id: v.display_number for v in self.vault.history(run.spec.prompt)}
        except WorkbenchError as exc:
            self.reporter.report(exc, "open the run")
            return None
        self.compare.show_run(run, labels)
        self.tabs.setCurrentWidget(self.compare)
        return run

    def ensure_author(self) -> bool:
        """Before a commit: the author is the registry login when known, else the name
        given once (asked now, the first time, and kept in the settings)."""
        from workbench.app.identity import apply_author, clean_author
        from workbench.vault import default_author

        if apply_author(self.vault, self.settings):
            return True
        name, ok = QInputDialog.getText(
            self,
            "Your name",
            "The name your versions carry (until you sign in to a team registry, "
            "whose login is used then):",
            text=default_author(),
        )
        if not ok:
            return False
        try:
            name = clean_author(name)
            new = self.settings.model_copy(update={"author": name})
            self._save_settings(new)
        except (WorkbenchError, OSError) as exc:
            self.reporter.report(exc, "save your name")
            return False
        self.settings = new
        self.vault.actor = name
        return True

    def open_sources(self) -> None:
        """The Data sources window (not modal: prompts and runs stay usable beside it)."""
        if self.sources_dialog is None:
            self.sources_dialog = SourcesDialog(
                self.vault, self.writer, self.reporter, self.secrets, self
            )
        self.sources_dialog.reload()
        self.sources_dialog.show()
        self.sources_dialog.raise_()
        self.sources_dialog.activateWindow()

    def open_settings(self) -> None:
        from workbench.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(
            self.settings, self.secrets, self.reporter, self, model_cache=self.model_lists.cache
        )
        if dialog.exec():
            try:
                self._save_settings(dialog.settings)
            except (WorkbenchError, OSError) as exc:
                self.reporter.report(exc, "save the settings")
                return
            self.settings = dialog.settings
            if dialog.identity_changed:  # a new URL or token: who we are is asked again
                self.sync.reset_identity()
                if self.registry_connection().configured:
                    self.refresh_sync_state()
            self.sync.sync_now(manual=dialog.identity_changed)
            self.compare.reload_models()
            self.model_lists.refresh(only_missing=True)  # saved profiles not listed yet
            self.editor.refresh()
            from PySide6.QtWidgets import QApplication

            from workbench.ui.theme import apply_theme

            app = QApplication.instance()
            if isinstance(app, QApplication):
                apply_theme(app, self.settings.theme)

    def continue_from(self, version: PromptVersion | None = None) -> None:
        """Make ``version`` (default: the one selected in History) the next commit's parent.

        Unsaved edits are kept and rebased onto it; without edits the editor shows the
        version's content. This is how an author continues from either head of a fork."""
        chosen = self.history.selected_versions()
        target = version or (chosen[0] if len(chosen) == 1 else None)
        if target is None:
            self.reporter.report(
                UsageError(
                    "select one version in History first",
                    hint="For a fork, pick either head (marked ⑂).",
                ),
                "continue from a version",
            )
            return
        self.editor.flush_draft()
        draft = self.drafts.load(target.prompt)
        try:
            self.drafts.save(
                Draft(
                    prompt=target.prompt,
                    base_id=target.id,
                    content=draft.content if draft else target.content,
                    commit_message=draft.commit_message if draft else "",
                )
            )
        except OSError as exc:
            self.reporter.report(exc, "continue from the version")
            return
        self.editor.set_prompt(target.prompt)
        self.tabs.setCurrentWidget(self.editor)
        self.statusBar().showMessage(
            f"Continuing from {target.display_number}: the next commit builds on it.", 8000
        )

    # ---- sync, review, publish --------------------------------------------------------

    def registry_connection(self) -> RegistryConnection:
        return RegistryConnection(self.settings.registry_url, self.secrets, front_end="app")

    def sync_now(self) -> None:
        """On demand (menu, F5, status-bar button): a round off the GUI thread."""
        self.sync.sync_now(manual=True)

    @Slot()
    def _on_sync_started(self) -> None:
        self.sync_badge.setText("⟳ Syncing…")

    @Slot(object)
    def _on_synced(self, outcome: SyncOutcome) -> None:
        before = {e.seq for e in (self._last_outcome.rejected if self._last_outcome else [])}
        report = outcome.report
        if report is not None and report.vault_changed:
            # Pulled versions may bring prompts; pushes number drafts (v3, not "draft 3");
            # labels may have moved: what the tree and History show changed.
            self.browser.reload()
            if self.history.prompt:
                self.history.reload()
        self._show_sync(outcome)
        fresh = [e for e in outcome.rejected if e.seq not in before]
        if fresh:
            self.statusBar().showMessage(
                f"The registry refused {len(fresh)} decision(s): see the Sync tab for why", 10000
            )
        if outcome.manual and outcome.error is not None:
            if outcome.state == "offline":
                self.statusBar().showMessage(
                    "Offline: the registry is unreachable; your work is kept and syncs later",
                    8000,
                )
            else:
                self.reporter.report(outcome.error, "sync with the registry")

    def _show_sync(self, outcome: SyncOutcome) -> None:
        self._last_outcome = outcome
        configured = outcome.state != "not_configured"
        for name in self.browser.model.names():
            status = outcome.statuses.get(name)
            self.browser.model.set_sync_badge(
                name, BADGES.get(status or "") if configured else None
            )
        self.sync_badge.setText(outcome.summary() if configured else "")
        tip = outcome.error.describe() if outcome.error is not None else ""
        self.sync_badge.setToolTip(tip or "Per-prompt state is shown beside each prompt")
        self.sync_panel.show_outcome(outcome)
        self.review.set_role(outcome.me.role if outcome.me else None)
        self.review.reload()

    def refresh_sync_state(self) -> None:
        """Re-read statuses and the outbox from the vault (no network): after a commit,
        a dismissal or a queued decision, so badges do not wait for the next round."""
        from workbench.vault.sync_store import SyncStore

        last = self._last_outcome
        store = SyncStore(self.vault)
        try:
            outcome = SyncOutcome(
                last.state if last else "synced",
                store.statuses(),
                store.outbox(),
                last.report if last else None,
                self.sync.me,
                last.error if last else None,
                last.at if last else datetime.now(UTC),
            )
        except WorkbenchError as exc:
            self.reporter.report(exc, "read the sync state")
            return
        self._show_sync(outcome)

    def _after_decision(self) -> None:
        self.refresh_sync_state()
        self.sync.sync_now(manual=False)

    def open_publish(self, prompt: str | None = None) -> QWidget | None:
        """The publish dialog for ``prompt`` (default: the selected one); non-blocking."""
        from workbench.ui.publish import PublishDialog

        name = prompt or self.browser.current_prompt() or self.editor.prompt
        connection = self.registry_connection()
        try:
            if name is None:
                raise UsageError("no prompt selected", hint="Select a prompt on the left first.")
            connection.require_url()
            dialog = PublishDialog(self.vault, name, connection, self.reporter, self)
        except WorkbenchError as exc:
            self.reporter.report(exc, "publish")
            return None
        dialog.published.connect(self._on_published)
        self.publish_dialog = dialog
        dialog.open()
        return dialog

    @Slot(object)
    def _on_published(self, state: object) -> None:
        from workbench.registry.schemas import LabelState

        if isinstance(state, LabelState):
            self.statusBar().showMessage(
                f"Published: {state.prompt}@{state.name} moved by {state.updated_by}", 8000
            )
        self.sync.sync_now(manual=False)

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(keys, what they do) for every menu action with a shortcut, then the extras."""
        rows = []
        for action in self.actions():
            key = action.shortcut()
            if key.isEmpty():
                continue
            text = action.text().replace("&", "").rstrip("…")
            rows.append((key.toString(QKeySequence.SequenceFormat.NativeText), text))
        return rows + list(EXTRA_SHORTCUTS)

    def show_shortcuts(self) -> QDialog:
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        layout = QVBoxLayout(dialog)
        rows = self.shortcut_rows()
        table = QTableWidget(len(rows), 2)
        table.setObjectName("shortcutsTable")
        table.setHorizontalHeaderLabels(["Keys", "Action"])
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        for r, (keys, text) in enumerate(rows):
            table.setItem(r, 0, QTableWidgetItem(keys))
            table.setItem(r, 1, QTableWidgetItem(text))
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        dialog.resize(520, 560)
        self.shortcuts_dialog = dialog
        dialog.open()
        return dialog

    def show_readme(self) -> QDialog:
        dialog = QDialog(self)
        dialog.setWindowTitle("README")
        layout = QVBoxLayout(dialog)
        view = QTextBrowser()
        view.setObjectName("readmeView")
        view.setOpenExternalLinks(True)
        text = readme_text()
        if text:
            view.setMarkdown(text)
        else:
            view.setPlainText(
                "The README is not installed with this build. See the project's page "
                "where you got Prompt Workbench."
            )
        layout.addWidget(view)
        if README_PATH.exists():
            link = QLabel(f"<a href='{README_PATH.as_uri()}'>Open {README_PATH}</a>")
            link.setOpenExternalLinks(True)
            layout.addWidget(link)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        dialog.resize(760, 640)
        self.readme_dialog = dialog
        dialog.open()
        return dialog

    def about(self) -> None:
        QMessageBox.about(
            self,
            "About Prompt Workbench",
            f"<h3>Prompt Workbench {app_version()}</h3>"
            "<p>A versioned prompt vault, side-by-side comparison across models with honest "
            "latency, token and cost readouts, review and publishing.</p>"
            f"<p>Vault: <code>{self.vault.path}</code></p>",
        )

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
