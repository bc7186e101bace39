"""Start the desktop app: settings, vault, theme, the main window."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from workbench.core.errors import WorkbenchError


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
    from workbench.ui.theme import QSS_PATH, apply_theme

    icon = QSS_PATH.parent / "prompt-workbench.svg"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))

    from workbench.app.services import make_engine, profiles_from
    from workbench.secrets.keyring_store import KeyringStore
    from workbench.settings import (
        Settings,
        data_dir,
        default_vault_path,
        load_settings,
        save_settings,
    )
    from workbench.ui.main_window import MainWindow
    from workbench.ui.worker import EngineProcess
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
    # The engine runs in its own process, so the window never shares the interpreter
    # lock with it; `engine_factory` above stays for code that wants an Engine in-process.
    window.controller.use_process(
        EngineProcess(path, lambda: profiles_from(state["settings"]), actor=vault.actor)
    )
    sys.excepthook = window.reporter.excepthook
    window.show()
    try:
        return app.exec()
    finally:
        sys.excepthook = sys.__excepthook__
        vault.close()
