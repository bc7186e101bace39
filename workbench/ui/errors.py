"""The one place where errors reach the person.

Expected failures (:class:`WorkbenchError`) show what happened and what to do;
anything else is a bug: a dialog with a copyable report (secrets redacted) and
the app carries on. Dialogs are opened non-blocking so a failing slot never
stacks modal loops (and tests can close them).
"""

from __future__ import annotations

import logging
import platform
import sys
import traceback
from types import TracebackType

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import WorkbenchError
from workbench.secrets.redaction import redact

log = logging.getLogger(__name__)


def describe(exc: BaseException) -> tuple[str, str]:
    """(what happened, what to do) for a person, secrets redacted."""
    if isinstance(exc, WorkbenchError):
        return redact(exc.message), redact(exc.hint)
    return redact(f"{type(exc).__name__}: {exc}"), "This is a bug in Prompt Workbench."


def failure_line(exc: BaseException) -> str:
    """A failed connection test as one status line: what went wrong, secrets redacted."""
    text = exc.describe() if isinstance(exc, WorkbenchError) else f"{type(exc).__name__}: {exc}"
    return "✘ " + redact(text)


def crash_report(exc: BaseException) -> str:
    """A plain-text report to paste into a bug: versions, traceback; keys redacted."""
    from importlib.metadata import version

    try:
        app_version = version("prompt-workbench")
    except Exception:
        app_version = "?"
    from PySide6 import __version__ as pyside_version

    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    head = (
        f"Prompt Workbench {app_version}\nPython {platform.python_version()} "
        f"on {platform.platform()}\nPySide6 {pyside_version}\n\n"
    )
    return redact(head + tb)


class CrashDialog(QDialog):
    def __init__(self, exc: BaseException, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Something went wrong")
        self.setObjectName("crashDialog")
        layout = QVBoxLayout(self)
        intro = QLabel(
            "<b>An unexpected error happened.</b> Your work is safe: the vault was not "
            "changed by the failed action and unsaved edits are kept as drafts.<br>"
            "Copy the report below into a bug report (keys are already removed)."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.report = QPlainTextEdit(crash_report(exc))
        self.report.setReadOnly(True)
        self.report.setMinimumSize(640, 280)
        layout.addWidget(self.report)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy report", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self.copy_report)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def copy_report(self) -> None:
        QApplication.clipboard().setText(self.report.toPlainText())


class ErrorReporter(QObject):
    """Shows errors; ``shown`` carries (title, text) so tests and the status bar can see them."""

    shown = Signal(str, str)

    def __init__(self, parent_widget: QWidget | None = None) -> None:
        super().__init__(parent_widget)
        self._parent = parent_widget
        self.last_dialog: QDialog | None = None

    def report(self, exc: BaseException, doing: str = "") -> None:
        what, hint = describe(exc)
        if isinstance(exc, WorkbenchError):
            title = f"Could not {doing}" if doing else "Could not do that"
            box = QMessageBox(QMessageBox.Icon.Warning, title, what, parent=self._parent)
            box.setInformativeText(hint or "")
            box.setObjectName("errorBox")
            self._show(box)
            self.shown.emit(title, f"{what}\n{hint}".strip())
            return
        log.error("unexpected error%s", f" while trying to {doing}" if doing else "", exc_info=exc)
        dialog = CrashDialog(exc, self._parent)
        self._show(dialog)
        self.shown.emit("Unexpected error", what)

    def _show(self, dialog: QDialog) -> None:
        if self.last_dialog is not None:
            self.last_dialog.close()
        self.last_dialog = dialog
        dialog.setModal(True)
        dialog.open()

    def excepthook(
        self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        """For ``sys.excepthook``: an exception escaping a slot gets the crash dialog."""
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        exc.__traceback__ = tb
        try:
            self.report(exc)
        except Exception:  # never recurse in the hook itself
            sys.__excepthook__(kind, exc, tb)
