"""Start the desktop app: settings, vault, theme, the main window; and tear it down.

Quitting is deterministic: when the event loop returns, the engine process and the
app's own worker threads are stopped, the window is deleted while the interpreter and
the ``QApplication`` are both still alive, and then the ``QApplication`` itself, so no
Qt object is destroyed during Python's finalization.

Two environment variables drive the real app from tests and benchmarks (a person
never needs them):

- ``WORKBENCH_TEST_RUN=NAME``: once the window is up, open prompt ``NAME`` in Compare
  and press Run.
- ``WORKBENCH_TEST_QUIT_MS=N``: ``N`` ms after the window is up (after Run was pressed,
  with ``WORKBENCH_TEST_RUN``), quit the way File → Quit does; ``finished`` quits as
  soon as the run has ended.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from workbench.assets import resource
from workbench.core.errors import WorkbenchError

TEST_RUN_ENV = "WORKBENCH_TEST_RUN"
TEST_QUIT_ENV = "WORKBENCH_TEST_QUIT_MS"
THREADS_JOIN_S = 5.0
"""How long quitting waits, in all, for the app's own short tasks (a connection test)."""


def _fail(message: str, hint: str) -> int:
    QMessageBox.critical(None, "Prompt Workbench cannot start", f"{message}\n\n{hint}")
    return 1


def run_app(vault_path: Path | None) -> int:
    """Open the window on ``vault_path`` (default: the settings' or the data folder's vault)."""
    QCoreApplication.setOrganizationName("prompt-workbench")
    QCoreApplication.setApplicationName("workbench")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationDisplayName("Prompt Workbench")
    app.setDesktopFileName("prompt-workbench")
    from workbench.ui.theme import apply_theme

    icon = resource("prompt-workbench.svg")
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))

    from workbench.app.engine_child import warm_prices
    from workbench.app.services import make_engine, profiles_from
    from workbench.secrets.keyring_store import KeyringStore
    from workbench.settings import (
        Settings,
        data_dir,
        default_vault_path,
        load_settings,
        save_settings,
    )
    from workbench.ui.engine_launch import EngineProcess, give_engine
    from workbench.ui.main_window import MainWindow
    from workbench.ui.ops import run_in_thread
    from workbench.vault import Vault

    try:
        settings = load_settings()
        apply_theme(app, settings.theme)
        path = vault_path or (
            Path(settings.vault_path) if settings.vault_path else default_vault_path()
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        vault = Vault.open(path, create=True)
    except WorkbenchError as exc:
        return _fail(exc.message, exc.hint)
    except OSError as exc:
        return _fail(f"cannot open the vault: {exc}", "Check the path and its permissions.")

    state = {"settings": settings}  # the window's Save replaces it; engines read it per run

    def save(new: Settings) -> None:
        save_settings(new)
        state["settings"] = new

    window = MainWindow(
        vault,
        settings,
        engine_factory=lambda: make_engine(vault, state["settings"]),
        profiles=lambda: profiles_from(state["settings"]),
        secrets=KeyringStore,
        data_dir=data_dir(),
        save_settings=save,
        sync_interval_s=settings.sync_interval_s,
    )
    # Runs go to the engine's own process; `engine_factory` above makes the in-process
    # Engine that only prices the Run button's pre-flight estimate.
    give_engine(
        window, EngineProcess(path, lambda: profiles_from(state["settings"]), actor=vault.actor)
    )
    sys.excepthook = window.reporter.excepthook
    window.show()
    # The Run button's pre-flight estimate prices calls in this process: load the price
    # data now, off the GUI thread, rather than on the first Run.
    run_in_thread(warm_prices, lambda _none: None, lambda _exc: None)
    _install_test_hooks(window)
    try:
        return app.exec()
    finally:
        sys.excepthook = sys.__excepthook__
        _tear_down(app, window)
        vault.close()


def _install_test_hooks(window: object) -> None:
    from workbench.ui.main_window import MainWindow

    assert isinstance(window, MainWindow)
    name = os.environ.get(TEST_RUN_ENV)
    quit_after = os.environ.get(TEST_QUIT_ENV, "")

    def arm_quit() -> None:
        if quit_after == "finished":
            # After the run's own handlers, from the event loop, as a click would come.
            window.controller.finished.connect(lambda _run: QTimer.singleShot(0, window.close))
            window.controller.failed.connect(lambda _exc: QTimer.singleShot(0, window.close))
        elif quit_after:
            QTimer.singleShot(int(quit_after), window.close)

    if name:

        def press_run() -> None:
            window.browser.select(name)
            window.tabs.setCurrentWidget(window.compare)
            window.compare.setup.run_button.click()
            arm_quit()

        QTimer.singleShot(0, press_run)
    else:
        arm_quit()


def _tear_down(app: QApplication, window: object) -> None:
    """Stop everything that could call into Qt or Python later, then delete the Qt side
    in order: the window (and its children) first, the application last."""
    from workbench.ui.main_window import MainWindow

    assert isinstance(window, MainWindow)
    if window.isVisible():  # the loop ended some other way than closing the window
        window.close()
    window.controller.shutdown()
    window.review_runs.shutdown()
    window.sync.shutdown()
    deadline = time.monotonic() + THREADS_JOIN_S
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and thread.name.startswith("ui-task"):
            thread.join(max(0.0, deadline - time.monotonic()))
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
