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
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.app.evidence import EvidenceReport, find_evidence
from workbench.app.publishing import (
    CANARY_PERCENT_DEFAULT,
    LabelContext,
    approved_by,
    check_canary,
    fetch_context,
    mirrored_context,
    publish_version,
    publish_warnings,
)
from workbench.app.suite_review import suite_review
from workbench.core.errors import StaleLabelError, UsageError, WorkbenchError
from workbench.core.models import LabelEvent, PromptVersion
from workbench.registry.errors import RegistryUnavailableError
from workbench.registry.review import PUBLISHED_LABEL, approvals
from workbench.registry.schemas import Canary, LabelState, LabelTarget
from workbench.secrets.redaction import redact
from workbench.ui.cell_view import status_colors
from workbench.ui.errors import ErrorReporter
from workbench.ui.history import DiffView
from workbench.ui.ops import run_in_thread
from workbench.ui.review import evidence_html, suite_html
from workbench.ui.sync_panel import RegistryConnection
from workbench.ui.theme import current_theme
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
        self.evidence_reports: dict[uuid.UUID, EvidenceReport | None] = {}
        self.approvals: dict[uuid.UUID, list[str] | None] = {}  # from the registry
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
        for v in self.versions:
            self.version_box.addItem(f"{v.display_number}  {v.author}: {v.message}", str(v.id))
        if version_id is not None:
            index = self.version_box.findData(str(version_id))
            if index >= 0:
                self.version_box.setCurrentIndex(index)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("Why (kept in the registry's audit log), e.g. launch")
        # A canary: another version serves a share of callers (chosen by caller key).
        self.canary_check = QCheckBox("Canary:")
        self.canary_check.setToolTip(
            "Serve another version to a share of callers (by caller key) and the "
            "chosen version to the rest. Publishing without a canary ends one."
        )
        self.canary_box = QComboBox()
        for v in self.versions:
            self.canary_box.addItem(f"{v.display_number}  {v.author}: {v.message}", str(v.id))
        self.canary_percent = QSpinBox()
        self.canary_percent.setRange(1, 99)
        self.canary_percent.setValue(CANARY_PERCENT_DEFAULT)
        self.canary_percent.setSuffix(" % of callers")
        canary_row = QHBoxLayout()
        canary_row.addWidget(self.canary_check)
        canary_row.addWidget(self.canary_box, 1)
        canary_row.addWidget(self.canary_percent)
        self._canary_toggled(False)
        form.addRow("Label", self.label_box)
        form.addRow("Version", self.version_box)
        form.addRow("", canary_row)
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
        self.facts = QLabel()
        self.facts.setObjectName("publishFacts")
        self.facts.setWordWrap(True)
        self.facts.setTextFormat(Qt.TextFormat.RichText)
        # The facts (approvals, evidence) must never be squeezed: the diff scrolls instead.
        self.facts.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.facts.setContentsMargins(0, 0, 0, 10)  # rich-text tables underreport height
        tl.addWidget(self.facts)
        split.addWidget(top)
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(QLabel("<b>Label history</b> (from the registry's audit log)"))
        self.history = QTableWidget(0, 5)
        self.history.setObjectName("labelHistory")
        self.history.setHorizontalHeaderLabels(["When", "Who", "Label", "Version", "Reason"])
        self.history.verticalHeader().hide()
        self.history.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.history.setShowGrid(False)
        header = self.history.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        # At least the header and one whole row, however small the screen.
        self.history.setMinimumHeight(
            self.history.horizontalHeader().sizeHint().height()
            + self.history.verticalHeader().defaultSectionSize()
            + 2 * self.history.frameWidth()
            + 2
        )
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
        self.canary_check.toggled.connect(self._canary_toggled)
        self.canary_box.currentIndexChanged.connect(lambda _i: self._show_change())
        self.canary_percent.valueChanged.connect(lambda _v: self._show_change())
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
        index = self.version_box.currentIndex()
        return self.versions[index] if 0 <= index < len(self.versions) else None

    def chosen_canary(self) -> PromptVersion | None:
        if not self.canary_check.isChecked():
            return None
        index = self.canary_box.currentIndex()
        return self.versions[index] if 0 <= index < len(self.versions) else None

    @Slot(bool)
    def _canary_toggled(self, on: bool) -> None:
        self.canary_box.setEnabled(on)
        self.canary_percent.setEnabled(on)
        if hasattr(self, "facts"):
            self._show_change()

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

    def _number(self, version_id: uuid.UUID) -> str:
        found = next((v for v in self.versions if v.id == version_id), None)
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
        self._show_history(context.history)
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

    def _show_history(self, entries: list[LabelEvent]) -> None:
        rows = list(reversed(entries))  # newest first
        self.history.setRowCount(len(rows))
        for r, entry in enumerate(rows):
            number = entry.to_number
            cells = [
                f"{entry.at.astimezone():%Y-%m-%d %H:%M}",
                entry.actor,
                entry.label,
                f"v{number}" if number is not None else "",
                entry.reason,
            ]
            for c, text in enumerate(cells):
                self.history.setItem(r, c, QTableWidgetItem(text))

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
        old = None
        if current is not None:
            old = next((v for v in self.versions if v.id == current.target.version_id), None)
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
        facts = [self._approval_line(version)]
        try:
            label = self.label_box.currentText()
            block = suite_html(suite_review(self.vault, version.prompt, label or "production"))
            # one line among the facts, without the paragraph's margins (room is scarce)
            facts.append(block.removeprefix("<p>").removesuffix("</p>"))
        except WorkbenchError as exc:
            facts.append(f"<b>Suite:</b> {html.escape(exc.message)}")
        canary = self.chosen_canary()
        if canary is not None:
            try:
                share = check_canary(version, canary, self.canary_percent.value())
            except WorkbenchError as exc:
                facts.append(f"<b>Canary:</b> {html.escape(exc.message)}.")
            else:
                facts.append(
                    f"<b>Canary:</b> {html.escape(canary.display_number)} serves {share}% of "
                    f"callers (chosen by caller key), {html.escape(version.display_number)} "
                    f"the rest; it needs an approval too. " + self._approval_line(canary, lead="")
                )
        warnings = publish_warnings(version, canary)
        if warnings:  # the whole text (the CLI's) in the tooltip; the diff keeps its room
            flagged = [
                v.display_number for v in (version, canary) if v and publish_warnings(v, None)
            ]
            verb = "is" if len(flagged) == 1 else "are"
            warn = current_theme().warning  # the theme's warning text colour (legible)
            facts.append(
                f"<span style='color:{warn}'>⚠ {html.escape(' and '.join(flagged))} {verb} "
                "not Langfuse-compatible: "
                "apps using the Langfuse SDK get an error (409); the workbench API serves "
                "it (hover for why).</span>"
            )
        self.facts.setToolTip("\n\n".join(warnings))
        if old is not None and version.number is not None and old.number is not None:
            if version.number < old.number:
                facts.append(
                    f"<b>Rollback:</b> from {old.display_number} back to {version.display_number}."
                )
            elif version.id == old.id:
                facts.append("The label already points at this version.")
        self.facts.setText("<br>".join(facts) + evidence_html(self._evidence(version)))
        self._update_button()

    def _approval_line(self, version: PromptVersion, lead: str = "<b>Approved by:</b> ") -> str:
        """Who approved ``version``: the registry's answer once it came (asked off the
        GUI thread the first time), the vault's mirror until then or offline."""
        from_registry = self.approvals.get(version.id)
        if from_registry is not None:
            names, where = from_registry, "from the registry"
        else:
            if version.id not in self.approvals and self.context and not self.context.offline:
                self._ask_approvals(version)
            try:
                names, where = approvals(self.vault, version), "as of the last sync"
            except WorkbenchError as exc:
                self.reporter.report(exc, "read the version's reviews")
                names, where = [], "unknown"
        who = html.escape(", ".join(names)) if names else "nobody yet"
        label = version.display_number
        return f"{lead}{who} <span style='color:gray'>({label}, {where})</span>"

    def _ask_approvals(self, version: PromptVersion) -> None:
        connection = self.connection
        self.approvals[version.id] = None

        def work() -> list[str]:
            with connection.open() as client:
                return approved_by(client, version)

        def done(names: list[str]) -> None:
            self.approvals[version.id] = names
            self._show_change()

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, WorkbenchError):
                raise exc  # offline: the mirror's answer stays

        self.threads.append(run_in_thread(work, done, failed))

    def _evidence(self, version: PromptVersion) -> EvidenceReport | None:
        """The version's evidence if read already; else read it off the GUI thread (the
        facts are shown again when it arrives) and None for now."""
        if version.id in self.evidence_reports:
            return self.evidence_reports[version.id]
        vault = self.vault

        def done(report: EvidenceReport) -> None:
            self.evidence_reports[version.id] = report
            chosen = self.chosen()
            if chosen is not None and chosen.id == version.id:
                self._show_change()

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, WorkbenchError):
                raise exc
            self.reporter.report(exc, "read the evidence")

        self.evidence_reports[version.id] = None
        self.threads.append(run_in_thread(lambda: find_evidence(vault, version), done, failed))
        return None

    def _target(self, version: PromptVersion) -> LabelTarget:
        canary = self.chosen_canary()
        split = None
        if canary is not None and canary.id != version.id:
            split = Canary(version_id=canary.id, percent=self.canary_percent.value())
        return LabelTarget(version_id=version.id, canary=split)

    def _update_button(self) -> None:
        version = self.chosen()
        current = self.context.current if self.context else None
        ready = (
            self.context is not None
            and not self.context.offline
            and version is not None
            and (current is None or current.target != self._target(version))
        )
        old_number = None
        if current is not None:
            old = next((v for v in self.versions if v.id == current.target.version_id), None)
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
            check_canary(version, self.chosen_canary(), self.canary_percent.value())
            if self.context is None or self.context.label != label or self.context.offline:
                raise UsageError(
                    "the registry has not said where the label points yet",
                    hint="Wait a moment, or check the connection and reopen the dialog.",
                )
        except WorkbenchError as exc:
            self.reporter.report(exc, "publish")
            return
        expected, connection, vault = self.context.current, self.connection, self.vault
        canary, share = self.chosen_canary(), self.canary_percent.value()
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
