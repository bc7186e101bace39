"""What the publish dialog says about the chosen move, under the diff: who approved
the version (and the canary), the test suite's verdict, the canary's share, Langfuse
compatibility, whether it is a rollback, and the vault's evidence for the version.

Approvals are asked of the registry and evidence is read off the GUI thread; until
they arrive the facts show the vault's mirror (approvals) or nothing (evidence), and
``approvals_arrived`` / ``evidence_arrived`` say when to show them again.
"""

from __future__ import annotations

import html
import threading
import uuid

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy

from workbench.app.evidence import EvidenceReport, find_evidence
from workbench.app.publishing import approved_by, check_canary, publish_warnings
from workbench.app.suite_review import suite_review
from workbench.core.errors import WorkbenchError
from workbench.core.models import PromptVersion
from workbench.registry.review import approvals
from workbench.ui.errors import ErrorReporter
from workbench.ui.ops import run_in_thread
from workbench.ui.review import evidence_html, suite_html
from workbench.ui.sync_panel import RegistryConnection
from workbench.ui.theme import current_theme
from workbench.vault import Vault


class ChangeFacts(QLabel):
    """The facts as rich text; the Langfuse warnings' whole text in the tooltip."""

    approvals_arrived = Signal()
    evidence_arrived = Signal(object)  # the version's id

    def __init__(
        self,
        vault: Vault,
        connection: RegistryConnection,
        reporter: ErrorReporter,
        threads: list[threading.Thread],
    ) -> None:
        super().__init__()
        self.vault = vault
        self.connection = connection
        self.reporter = reporter
        self.threads = threads
        """The dialog's list of the threads started (it waits for them)."""
        self.evidence_reports: dict[uuid.UUID, EvidenceReport | None] = {}
        self.approvals: dict[uuid.UUID, list[str] | None] = {}  # from the registry
        self.setObjectName("publishFacts")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        # The facts (approvals, evidence) must never be squeezed: the diff scrolls instead.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.setContentsMargins(0, 0, 0, 10)  # rich-text tables underreport height

    def show_move(
        self,
        version: PromptVersion,
        old: PromptVersion | None,
        label: str,
        canary: PromptVersion | None,
        percent: int,
        *,
        online: bool,
    ) -> None:
        """The facts of moving ``label`` from ``old`` (None: no version of this vault)
        to ``version``, with ``canary`` serving ``percent`` % of callers if given.
        ``online``: the registry answered, so approvals are asked of it."""
        facts = [self._approval_line(version, online)]
        try:
            block = suite_html(suite_review(self.vault, version.prompt, label or "production"))
            # one line among the facts, without the paragraph's margins (room is scarce)
            facts.append(block.removeprefix("<p>").removesuffix("</p>"))
        except WorkbenchError as exc:
            facts.append(f"<b>Suite:</b> {html.escape(exc.message)}")
        if canary is not None:
            try:
                share = check_canary(version, canary, percent)
            except WorkbenchError as exc:
                facts.append(f"<b>Canary:</b> {html.escape(exc.message)}.")
            else:
                facts.append(
                    f"<b>Canary:</b> {html.escape(canary.display_number)} serves {share}% of "
                    f"callers (chosen by caller key), {html.escape(version.display_number)} "
                    f"the rest; it needs an approval too. "
                    + self._approval_line(canary, online, lead="")
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
        self.setToolTip("\n\n".join(warnings))
        if old is not None and version.number is not None and old.number is not None:
            if version.number < old.number:
                facts.append(
                    f"<b>Rollback:</b> from {old.display_number} back to {version.display_number}."
                )
            elif version.id == old.id:
                facts.append("The label already points at this version.")
        self.setText("<br>".join(facts) + evidence_html(self._evidence(version)))

    def _approval_line(
        self, version: PromptVersion, online: bool, lead: str = "<b>Approved by:</b> "
    ) -> str:
        """Who approved ``version``: the registry's answer once it came (asked off the
        GUI thread the first time), the vault's mirror until then or offline."""
        from_registry = self.approvals.get(version.id)
        if from_registry is not None:
            names, where = from_registry, "from the registry"
        else:
            if version.id not in self.approvals and online:
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
            self.approvals_arrived.emit()

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, WorkbenchError):
                raise exc  # offline: the mirror's answer stays

        self.threads.append(run_in_thread(work, done, failed))

    def _evidence(self, version: PromptVersion) -> EvidenceReport | None:
        """The version's evidence if read already; else read it off the GUI thread
        (``evidence_arrived`` fires when it is) and None for now."""
        if version.id in self.evidence_reports:
            return self.evidence_reports[version.id]
        vault = self.vault

        def done(report: EvidenceReport) -> None:
            self.evidence_reports[version.id] = report
            self.evidence_arrived.emit(version.id)

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, WorkbenchError):
                raise exc
            self.reporter.report(exc, "read the evidence")

        self.evidence_reports[version.id] = None
        self.threads.append(run_in_thread(lambda: find_evidence(vault, version), done, failed))
        return None
