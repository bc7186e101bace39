"""The window's Help menu: the keyboard shortcuts, the README and About."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
)

from workbench.ui.window_base import WindowBase


def app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("prompt-workbench")
    except PackageNotFoundError:
        return "dev"


README_PATH = Path(__file__).resolve().parents[2] / "README.md"


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


class WindowHelp(WindowBase):
    """Help: every shortcut, the user guide, the version."""

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
