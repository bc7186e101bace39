"""The publish dialog: move a registry label onto a version, knowing what changes.

Before anything moves, the dialog shows where the label points now (asked of the
registry, because the move is a compare-and-swap against exactly that), the diff from
that version to the chosen one, who approved the chosen version and the vault's
evidence for it, and asks for a reason. Choosing an earlier version is a rollback.
Below, the label history of the prompt from the registry's audit log.

Offline, the dialog shows the vault's mirror of the registry's labels and their
history (as of the last sync), says so, and keeps Publish off: a move needs the
registry.

The registry decides: a refusal (role, missing approval, a lost race) arrives with
the server's reason, shown in the dialog and through the error reporter. All
registry calls run off the GUI thread.
"""

from __future__ import annotations

import html
import threading
import uuid

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from workbench.app.publishing import (
    LabelContext,
    check_canary,
    fetch_context,
    mirrored_context,
    publish_version,
)
from workbench.core.errors import StaleLabelError, UsageError, WorkbenchError
from workbench.core.models import PromptVersion
from workbench.registry.errors import RegistryUnavailableError
from workbench.registry.review import PUBLISHED_LABEL
from workbench.registry.schemas import LabelState
from workbench.secrets.redaction import redact
from workbench.ui.cell_view import status_colors
from workbench.ui.errors import ErrorReporter
from workbench.ui.history import DiffView
from workbench.ui.ops import run_in_thread
from workbench.ui.publish.canary import CanaryChooser, fill_versions, version_at
from workbench.ui.publish.facts import ChangeFacts
from workbench.ui.publish.label_history import LabelHistoryTable
from workbench.ui.sync_panel import RegistryConnection
from workbench.vault import Vault
from workbench.vault.sync_store import SyncStore

COMMON_LABELS = ("production", "staging")


class PublishDialog(QDialog):
    """``loaded`` after the registry answered about the label; ``refused`` carries the
    server's reason; ``published`` the new label state (the dialog then closes)."""

    loaded = Signal(object)  # LabelContext | WorkbenchError
    refused = Signal(str)
    published = Signal(object)  # LabelState

    def __init__(
        self,
        vault: Vault,
        prompt: str,
        connection: RegistryConnection,
        reporter: ErrorReporter,
        parent: QWidget | None = None,
        *,
        label: str = PUBLISHED_LABEL,
        version_id: uuid.UUID | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Publish {prompt}")
        self.setObjectName("publishDialog")
        self.setMinimumSize(860, 640)
        self.vault = vault
        self.prompt = prompt
        self.connection = connection
        self.reporter = reporter
        self.context: LabelContext | None = None
        self.threads: list[threading.Thread] = []
        self._asked = 0  # the latest context request; older answers are ignored
        self.versions = [v for v in reversed(vault.history(prompt)) if v.number is not None]

        layout = QVBoxLayout(self)
        heading = QLabel(
            f"<b>Publish {html.escape(prompt)}</b>: move a registry label onto a version. "
            "Choosing an earlier version rolls back."
        )
        heading.setWordWrap(True)
        layout.addWidget(heading)
        form = QFormLayout()
        self.label_box = QComboBox()
        self.label_box.setEditable(True)
        known = [lab.name for lab in SyncStore(vault).registry_labels(prompt)]
        for name in dict.fromkeys([*COMMON_LABELS, *known]):
            self.label_box.addItem(name)
        self.label_box.setCurrentText(label)
        self.version_box = QComboBox()
        fill_versions(self.version_box, self.versions)
        if version_id is not None:
            index = self.version_box.findData(str(version_id))
            if index >= 0:
                self.version_box.setCurrentIndex(index)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("Why (kept in the registry's audit log), e.g. launch")
        self.canary = CanaryChooser(self.versions)
        form.addRow("Label", self.label_box)
        form.addRow("Version", self.version_box)
        form.addRow("", self.canary)
        layout.addLayout(form)
        self.current_label = QLabel("Asking the registry where the label points…")
        self.current_label.setObjectName("publishCurrent")
        self.current_label.setWordWrap(True)
        layout.addWidget(self.current_label)
        self.production_label = QLabel("")
        self.production_label.setObjectName("publishProduction")
        self.production_label.setWordWrap(True)
        self.production_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.production_label.hide()
        layout.addWidget(self.production_label)

        split = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        self.diff = DiffView()
        tl.addWidget(self.diff, 1)
        self.facts = ChangeFacts(vault, connection, reporter, self.threads)
        self.facts.approvals_arrived.connect(self._show_change)
        self.facts.evidence_arrived.connect(self._evidence_arrived)
        tl.addWidget(self.facts)
        split.addWidget(top)
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(QLabel("<b>Label history</b> (from the registry's audit log)"))
        self.history = LabelHistoryTable()
        bl.addWidget(self.history, 1)
        split.addWidget(bottom)
        split.setCollapsible(0, False)
        split.setSizes([460, 150])
        self.split = split
        layout.addWidget(split, 1)

        layout.addWidget(QLabel("Reason"))
        layout.addWidget(self.reason)
        self.refusal = QLabel()
        self.refusal.setObjectName("publishRefusal")
        self.refusal.setWordWrap(True)
        self.refusal.setStyleSheet("color: #c0392b")
        self.refusal.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.refusal.hide()
        layout.addWidget(self.refusal)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.publish_button = QPushButton("Publish")
        self.publish_button.setObjectName("primaryButton")
        self.publish_button.setDefault(True)
        self.buttons.addButton(self.publish_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.publish_button.clicked.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        self.label_box.currentTextChanged.connect(self._label_changed)
        self.version_box.currentIndexChanged.connect(lambda _i: self._show_change())
        self.canary.changed.connect(self._show_change)
        self.reason.textChanged.connect(lambda _t: self._update_button())
        # Room for the diff on a big screen (it was the 860x640 minimum at 2560x1440).
        screen = self.screen() if parent is None else parent.screen()
        if screen is not None:
            room = screen.availableGeometry()
            self.resize(
                max(self.minimumWidth(), min(1400, int(room.width() * 0.75))),
                max(self.minimumHeight(), min(1000, int(room.height() * 0.85))),
            )
            if room.height() < 800:  # a small screen: the diff and the evidence come first
                split.setSizes([520, 60])
        if not self.versions:
            self.current_label.setText(
                f"No version of {prompt} is in the registry yet: sync first, then publish."
            )
        self.fetch()

    # ---- registry context ------------------------------------------------------------

    def chosen(self) -> PromptVersion | None:
        return version_at(self.versions, self.version_box)

    @Slot(str)
    def _label_changed(self, _text: str) -> None:
        self.context = None
        self.fetch()

    def fetch(self) -> None:
        """Ask the registry where the label points and how it moved (off the GUI thread)."""
        label = self.label_box.currentText().strip()
        self._asked += 1
        asked, connection, prompt = self._asked, self.connection, self.prompt
        self.current_label.setText(f"Asking the registry where {label or '…'} points…")
        self._update_button()

        def work() -> LabelContext:
            with connection.open() as client:
                return fetch_context(client, prompt, label)

        def done(context: LabelContext) -> None:
            if asked == self._asked:
                self.context = context
                self._show_context()
                self.loaded.emit(context)

        def failed(exc: BaseException) -> None:
            if asked != self._asked:
                return
            if not isinstance(exc, WorkbenchError):
                raise exc
            self.context = None
            offline = isinstance(exc, RegistryUnavailableError)
            why = (
                ("⚠ Offline: " if offline else "✘ ")
                + html.escape(redact(exc.message))
                + ". Publishing needs the registry; nothing was changed."
            )
            try:
                mirrored = mirrored_context(self.vault, prompt, label)
            except WorkbenchError as read_error:
                self.reporter.report(read_error, "read the labels of the vault")
                mirrored = None
            if mirrored is not None:
                self.context = mirrored
                self._show_context()
                self.current_label.setText(why + "<br>" + self._describe(mirrored))
            else:
                self.current_label.setText(why)
                self._show_change()
            self.loaded.emit(exc)

        self.threads.append(run_in_thread(work, done, failed))

    def _version(self, version_id: uuid.UUID) -> PromptVersion | None:
        return next((v for v in self.versions if v.id == version_id), None)

    def _number(self, version_id: uuid.UUID) -> str:
        found = self._version(version_id)
        return found.display_number if found else str(version_id)[:8]

    def _describe(self, context: LabelContext) -> str:
        current = context.current
        since = " as of the last sync" if context.offline else ""
        if current is None:
            return (
                f"<b>{html.escape(context.label)}</b> does not exist yet{since} for "
                f"{html.escape(self.prompt)}: publishing creates it."
            )
        when = f"{current.updated_at.astimezone():%Y-%m-%d %H:%M}"
        protected = " (protected: needs a publisher and an approval)" if current.protected else ""
        canary = current.target.canary
        split = f", canary {self._number(canary.version_id)} at {canary.percent}%" if canary else ""
        return (
            f"<b>{html.escape(context.label)}</b> points{since} at "
            f"<b>{self._number(current.target.version_id)}</b>{split}, set by "
            f"{html.escape(current.updated_by)} on {when}{protected}."
        )

    def _show_context(self) -> None:
        context = self.context
        if context is None:
            return
        self.current_label.setText(self._describe(context))
        self._show_production(context)
        self.history.show_events(context.history)
        self._show_change()

    def _show_production(self, context: LabelContext) -> None:
        """The label's production figures (last 24 h) and a canary the registry halted."""
        parts = []
        if context.halt:
            red = status_colors(self.palette())[0]
            parts.append(f"<span style='color:{red}'>{html.escape(context.halt)}</span>")
        if context.production:
            parts.append(
                "<b>In production, last 24 h:</b><br>"
                + "<br>".join(html.escape(line) for line in context.production)
            )
        elif not context.offline and context.current is not None:
            parts.append("No production calls of this label reported in the last 24 h.")
        self.production_label.setText("<br>".join(parts))
        self.production_label.setVisible(bool(parts))

    def _show_change(self) -> None:
        """The diff from the label's current version to the chosen one, and the facts."""
        version = self.chosen()
        self.refusal.hide()
        if version is None:
            self.diff.clear()
            self.facts.clear()
            self._update_button()
            return
        current = self.context.current if self.context else None
        old = self._version(current.target.version_id) if current is not None else None
        if old is None:
            self.diff.setHtml(
                f"<p>Nothing to compare with: the label points at no version of this vault. "
                f"Publishing puts <b>{html.escape(version.display_number)}</b> there.</p>"
            )
            self.diff.rows = []
        else:
            self.diff.show_diff(
                old.content, version.content, f"{old.display_number} (now)",
                f"{version.display_number} (after)",
            )  # fmt: skip
        online = self.context is not None and not self.context.offline
        canary, percent = self.canary.chosen(), self.canary.percent.value()
        label = self.label_box.currentText()
        self.facts.show_move(version, old, label, canary, percent, online=online)
        self._update_button()

    @Slot(object)
    def _evidence_arrived(self, version_id: uuid.UUID) -> None:
        chosen = self.chosen()
        if chosen is not None and chosen.id == version_id:
            self._show_change()

    def _update_button(self) -> None:
        version = self.chosen()
        current = self.context.current if self.context else None
        ready = (
            self.context is not None
            and not self.context.offline
            and version is not None
            and (current is None or current.target != self.canary.target(version))
        )
        old = self._version(current.target.version_id) if current is not None else None
        old_number = old.number if old else None
        rollback = (
            version is not None
            and version.number is not None
            and old_number is not None
            and version.number < old_number
        )
        self.publish_button.setText(
            f"Roll back to {version.display_number}" if rollback and version else "Publish"
        )
        self.publish_button.setEnabled(ready and bool(self.reason.text().strip()))

    # ---- publishing ------------------------------------------------------------------

    @Slot()
    def submit(self) -> None:
        """Move the label (off the GUI thread); the dialog closes when the registry agrees."""
        version = self.chosen()
        label = self.label_box.currentText().strip()
        reason = self.reason.text().strip()
        try:
            if version is None:
                raise UsageError("choose a version", hint="Sync first if the list is empty.")
            if not reason:
                raise UsageError(
                    "say why you publish", hint="Write a reason; it goes into the audit log."
                )
            check_canary(version, self.canary.chosen(), self.canary.percent.value())
            if self.context is None or self.context.label != label or self.context.offline:
                raise UsageError(
                    "the registry has not said where the label points yet",
                    hint="Wait a moment, or check the connection and reopen the dialog.",
                )
        except WorkbenchError as exc:
            self.reporter.report(exc, "publish")
            return
        expected, connection, vault = self.context.current, self.connection, self.vault
        canary, share = self.canary.chosen(), self.canary.percent.value()
        self.publish_button.setEnabled(False)
        self.refusal.hide()

        def work() -> LabelState:
            with connection.open() as client:
                # The window's sync loop mirrors the move (a round starts on `published`).
                return publish_version(
                    vault, client, version, label, expected=expected, reason=reason,
                    canary=canary, canary_percent=share, sync_after=False,
                )  # fmt: skip

        def done(state: LabelState) -> None:
            self.published.emit(state)
            self.accept()

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, WorkbenchError):
                raise exc
            text = redact(exc.message) + (f"\n{redact(exc.hint)}" if exc.hint else "")
            if isinstance(exc, RegistryUnavailableError):
                # Not a refusal: nobody said no. The request may or may not have got
                # through; pressing Publish again is safe either way (see publish()).
                text = (
                    f"{redact(exc.message)}.\nYour choice and reason are kept: press "
                    f"{self.publish_button.text()} again when the registry is back (safe: "
                    "a label already moved counts as done)."
                )
                self.refusal.setText(f"The registry did not answer: {text}")
            else:
                self.refusal.setText(f"The registry refused: {text}")
            self.refusal.show()
            self._update_button()
            self.reporter.report(exc, "publish")
            self.refused.emit(redact(exc.message))
            if isinstance(exc, StaleLabelError):
                self.fetch()  # someone moved it first: show where it is now

        self.threads.append(run_in_thread(work, done, failed))

    def wait_threads(self, timeout: float = 15.0) -> None:
        for thread in self.threads:
            thread.join(timeout)
