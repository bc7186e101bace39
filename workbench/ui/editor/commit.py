"""The editor's commit bar and the commit itself: a message, the reason Commit is off
(when it is), and the write, which goes through the window's one vault writer, so a
commit asked for during a long write (an import) waits its turn, saying so."""

from __future__ import annotations

import uuid

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from workbench.core.errors import WorkbenchError
from workbench.core.models import PromptContent, PromptVersion
from workbench.ui.errors import ErrorReporter
from workbench.ui.ops import VaultWriter
from workbench.vault import Vault

COMMIT_TIP = "Commit a new version (Ctrl+S)"


def commit_version(
    vault: Vault,
    prompt: str,
    content: PromptContent,
    message: str,
    parents: list[uuid.UUID] | None,
) -> PromptVersion:
    """Commit ``content`` as a new version of ``prompt`` (on the writer's thread).
    Bindings to data sources are checked against their allow-lists, then pinned."""
    from workbench.app.identity import known_role
    from workbench.app.sources import prepare_commit
    from workbench.settings import load_settings

    checked = prepare_commit(vault, prompt, content, known_role(load_settings()))
    return vault.commit(prompt, checked, message, parents=parents)


class CommitBar(QWidget):
    """The commit message, the reason Commit is off, and the Commit button.

    ``commit_requested``: Enter in the message or the button; ``changed``: the message
    was edited; ``committed``: (prompt, new version); ``resumed``: a commit that waited
    its turn has ended (done or failed)."""

    commit_requested = Signal()
    changed = Signal()
    committed = Signal(str, object)  # prompt, PromptVersion
    resumed = Signal()

    def __init__(self, vault: Vault, writer: VaultWriter, reporter: ErrorReporter) -> None:
        super().__init__()
        self.vault = vault
        self.writer = writer
        self.reporter = reporter
        self.waiting: str | None = None  # the prompt of a commit waiting its turn
        bar = QHBoxLayout(self)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(8)
        self.message = QLineEdit()
        self.message.setPlaceholderText("Commit message: what changed and why")
        self.message.setAccessibleName("Commit message")
        self.message.textChanged.connect(self.changed)
        self.message.returnPressed.connect(self.commit_requested)
        self.reason = QLabel()
        self.reason.setObjectName("commitReason")
        self.button = QPushButton("Commit")
        self.button.setObjectName("primaryButton")
        self.button.setToolTip(COMMIT_TIP)
        self.button.clicked.connect(self.commit_requested)
        bar.addWidget(self.message, 1)
        bar.addWidget(self.reason)
        bar.addWidget(self.button)

    def message_text(self) -> str:
        return self.message.text().strip()

    def waiting_reason(self) -> str:
        """Why Commit is off while a commit waits its turn ('' when none waits)."""
        if self.waiting is None:
            return ""
        return f"Committing as soon as {self.writer.busy or 'another write'} is done"

    def show_blocker(self, reason: str) -> None:
        """Commit on when ``reason`` is '', else off with ``reason`` beside it."""
        self.button.setEnabled(not reason)
        self.reason.setText(reason)
        self.button.setToolTip(reason or COMMIT_TIP)

    def start(self, prompt: str, content: PromptContent, parents: list[uuid.UUID] | None) -> bool:
        """Commit through the writer; False when it waits behind a long write (the
        button then says so, and the author keeps typing)."""
        vault, message = self.vault, self.message_text()

        def failed(exc: BaseException) -> None:
            self._ended()
            if not isinstance(exc, WorkbenchError):
                raise exc
            self.reporter.report(exc, "commit")

        def done(version: PromptVersion) -> None:
            self._ended()
            self.committed.emit(prompt, version)

        now = self.writer.write(
            f"committing {prompt}",
            lambda: commit_version(vault, prompt, content, message, parents),
            done,
            failed,
        )
        if not now:
            self.waiting = prompt
            self.button.setText("Waiting…")
        return now

    def _ended(self) -> None:
        if self.waiting is not None:
            self.waiting = None
            self.button.setText("Commit")
            self.resumed.emit()
