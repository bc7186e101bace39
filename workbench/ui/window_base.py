"""What every part of the main window knows of it: :class:`WindowBase` names the
window's panels, stores and controllers (built by
:class:`~workbench.ui.main_window.MainWindow`) so each part (actions, import and export,
sync, help) is typed against one list of them."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import QSettings, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QSplitter,
    QTabWidget,
    QToolButton,
    QWidget,
)

from workbench.app.import_child import StageEvent
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
    SyncController,
    SyncOutcome,
    SyncPanel,
)
from workbench.ui.testcases import TestCasePanel
from workbench.ui.worker import RunController
from workbench.vault import Vault


class WindowBase(QMainWindow):
    """The window's parts, set by ``MainWindow.__init__``; no behaviour of its own."""

    bundle_imported = Signal(object)
    """An import finished (the ImportReport). Here, not in the part that emits it:
    PySide wants a class's signals ahead of its bases' slots."""
    import_stage = Signal(object)
    """A step of the running import starts (a StageEvent, from the writer's thread)."""

    vault: Vault
    settings: Settings
    profiles: Callable[[], Mapping[str, ProviderProfile]]
    secrets: Callable[[], SecretStore]
    _save_settings: Callable[[Settings], None]
    qsettings: QSettings
    reporter: ErrorReporter
    drafts: DraftStore
    model_lists: ModelLists
    writer: VaultWriter
    sources_dialog: SourcesDialog | None
    cases: CaseStore
    controller: RunController
    browser: VaultBrowser
    editor: EditorPanel
    history: HistoryPanel
    testcases: TestCasePanel
    compare: ComparePanel
    runs: RunsPanel
    log_panel: LogPanel
    spending: SpendingView
    log_tabs: QTabWidget
    production: ProductionView
    review_runs: RunController
    regression: RegressionBox
    review: ReviewPanel
    sync_panel: SyncPanel
    sync: SyncController
    publish_dialog: QWidget | None
    _last_outcome: SyncOutcome | None
    tabs: QTabWidget
    splitter: QSplitter
    sync_badge: QLabel
    sync_button: QToolButton
    write_progress: QProgressBar
    _import_stage: StageEvent | None
    vault_label: QLabel
    context_menu: QMenu | None
    shortcuts_dialog: QDialog | None
    readme_dialog: QDialog | None
    commit_action: QAction
    sync_action: QAction
