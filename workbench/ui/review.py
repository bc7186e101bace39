"""The review queue: versions awaiting review, their diff and evidence, the decision.

Everything shown comes from the vault (the registry's reviews and labels as of the
last sync, and the local run log), so the queue is readable offline. A decision goes
into the outbox and reaches the registry with the next sync; until then it shows as
pending, and if the registry refuses it the server's reason shows here and in the
Sync tab.

Evidence is the newest *finished, complete* run that tried the version
(``workbench.app.evidence``), read off the GUI thread; newer partial runs are listed
as partial, never used.
"""

from __future__ import annotations

import html
import threading
import uuid

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from workbench.app.evidence import (
    EvidenceReport,
    find_evidence,
    pass_rate,
    review_evidence,
    reviewed_suite,
)
from workbench.app.suite_review import SuiteReview, suite_review
from workbench.core.errors import UsageError, WorkbenchError
from workbench.core.models import PromptVersion
from workbench.core.suites import short
from workbench.registry.review import (
    awaiting_review,
    mirrored_reviews,
    pending_reviews,
    published_version,
    queue_review,
)
from workbench.registry.schemas import ROLE_RANK, Decision
from workbench.secrets.redaction import redact
from workbench.ui.errors import ErrorReporter
from workbench.ui.format import fmt_ms, fmt_tokens, fmt_usd, model_label
from workbench.ui.history import DiffView
from workbench.ui.ops import VaultWriter, run_in_thread
from workbench.ui.regression_view import RegressionBox
from workbench.ui.review_queue import ReviewQueue
from workbench.vault import Vault

EVIDENCE_HEADERS = (
    "Model", "Calls", "Errors", "Pass rate", "TTFT p50", "Latency p95", "Tokens in/out", "Cost",
)  # fmt: skip


def fmt_rate(passed: int, calls: int, checked: int) -> str:
    rate = pass_rate(passed, calls, checked)
    return "no checks" if rate is None else f"{rate:.0%} ({passed}/{calls})"


def _breakable(model: str) -> str:
    """A model id that may wrap after its profile ("anthropic:" over "claude-3-5-…"),
    where a line does not break by itself: unbroken, the id held the evidence so wide
    that the queue beside it was cut at 1024 px. A zero-width space marks the place."""
    return model.replace(":", ":&#8203;", 1)


def suite_html(review: SuiteReview) -> str:
    """The suite reviewed with the version: its hash, and the cases added, removed or
    changed since the suite the published version was approved with."""
    first, *rest = review.lines()
    body = "<br>".join(html.escape(line.strip()) for line in rest)
    return f"<p><b>Test {html.escape(first)}</b><br>{body}</p>"


def evidence_html(report: EvidenceReport | None) -> str:
    """The chosen run's readouts for one version, one row per model, and the newer
    partial runs that were not used."""
    if report is None:
        return "<p><b>Evidence:</b> reading the run log…</p>"
    partial = "".join(
        f"<br><span style='color:gray'>Not used: run {html.escape(str(p.run_id)[:8])} of "
        f"{p.started_at.astimezone():%Y-%m-%d %H:%M} ({html.escape(p.state)}).</span>"
        for p in report.partial[:3]
    )
    evidence = report.chosen
    if evidence is None:
        return (
            "<p><b>Evidence:</b> no finished compare or eval run in this vault includes "
            "this version. Run a comparison (Compare tab) to see pass rate, latency, tokens "
            f"and cost.{partial}</p>"
        )
    when = f"{evidence.started_at.astimezone():%Y-%m-%d %H:%M}"
    head = (
        f"<p><b>Evidence:</b> run {html.escape(str(evidence.run_id)[:8])} of {when} "
        f"({html.escape(evidence.state)}): {evidence.calls} calls, {evidence.errors} errors, "
        f"pass rate {fmt_rate(evidence.passed, evidence.calls, evidence.checked)}"
        f"{partial}</p>"
    )
    header = "".join(
        f"<th align='{'left' if i == 0 else 'right'}'>{h}</th>"  # headers may wrap
        for i, h in enumerate(EVIDENCE_HEADERS)
    )
    rows = [f"<table cellspacing='0' cellpadding='2'><tr>{header}</tr>"]
    for r in evidence.rows:
        tokens = (
            f"{fmt_tokens(r.input_tokens, r.tokens_estimated)} / "
            f"{fmt_tokens(r.output_tokens, r.tokens_estimated)}"
        )
        cells = [
            _breakable(html.escape(model_label(str(r.model), r.echo))),
            str(r.calls),
            str(r.errors),
            fmt_rate(r.passed, r.calls, r.checked),
            fmt_ms(r.ttft_p50_ms),
            fmt_ms(r.latency_p95_ms),
            tokens,
            fmt_usd(r.cost_usd),
        ]
        rows.append(
            "<tr>"
            + "".join(
                # A number never breaks across lines ("524 ms", "67% (2/3)"); the
                # model name may.
                f"<td align='left'>{c}</td>"
                if i == 0
                else f"<td align='right' style='white-space:nowrap'>{c.replace(' ', '&nbsp;')}</td>"
                for i, c in enumerate(cells)
            )
            + "</tr>"
        )
    rows.append("</table>")
    return head + "".join(rows)


class ReviewPanel(QWidget):
    """Pick a version on the left; read its diff and evidence; approve or request changes."""

    decided = Signal(object)  # PromptVersion: a decision was queued; sync to send it
    evidence_loaded = Signal(object)  # uuid.UUID: that version's evidence is shown

    def __init__(
        self,
        vault: Vault,
        reporter: ErrorReporter,
        writer: VaultWriter | None = None,
        regression: RegressionBox | None = None,
    ) -> None:
        super().__init__()
        self.vault = vault
        self.regression = regression
        """Runs the selected version against a label's (``workbench.ui.regression_view``)."""
        self.reporter = reporter
        self.writer = writer or VaultWriter(reporter, self)
        self.role: str | None = None
        self.evidence_reports: dict[uuid.UUID, EvidenceReport] = {}
        """Evidence per version, read off the GUI thread; dropped on every reload."""
        self.threads: list[threading.Thread] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.banner = QLabel()
        self.banner.setObjectName("dimLabel")
        self.banner.setWordWrap(True)
        layout.addWidget(self.banner)
        split = QSplitter(Qt.Orientation.Horizontal)
        self.table = ReviewQueue(split)
        split.addWidget(self.table)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("Nothing selected")
        self.title.setObjectName("reviewTitle")
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        rl.addWidget(self.title)
        self.diff = DiffView()
        rl.addWidget(self.diff, 3)
        self.evidence = QLabel()
        self.evidence.setObjectName("reviewEvidence")
        self.evidence.setWordWrap(True)
        self.evidence.setTextFormat(Qt.TextFormat.RichText)
        self.evidence.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.evidence.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        rl.addWidget(self.evidence)
        self.suite = QLabel()
        self.suite.setObjectName("reviewSuite")
        self.suite.setWordWrap(True)
        self.suite.setTextFormat(Qt.TextFormat.RichText)
        self.suite.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        rl.addWidget(self.suite)
        if regression is not None:
            rl.addWidget(regression)
        self.comment = QPlainTextEdit()
        self.comment.setPlaceholderText(
            "Comment (required to request changes): what is good, what should change"
        )
        self.comment.setMaximumHeight(70)
        rl.addWidget(self.comment)
        buttons = QHBoxLayout()
        self.state_label = QLabel()
        self.state_label.setWordWrap(True)
        self.approve_button = QPushButton("Approve")
        self.approve_button.setObjectName("primaryButton")
        self.approve_button.clicked.connect(lambda: self.decide("approve"))
        self.changes_button = QPushButton("Request changes")
        self.changes_button.clicked.connect(lambda: self.decide("request_changes"))
        buttons.addWidget(self.state_label, 1)
        buttons.addWidget(self.changes_button)
        buttons.addWidget(self.approve_button)
        rl.addLayout(buttons)
        split.addWidget(right)
        self.split = split
        split.setStretchFactor(1, 2)
        em = self.fontMetrics().horizontalAdvance("M")
        split.setSizes([34 * em, 52 * em])  # the queue's columns fit in 34 ems
        layout.addWidget(split, 1)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self._update_banner()
        self._show(None)

    # ---- data ------------------------------------------------------------------------

    def set_role(self, role: str | None) -> None:
        self.role = role
        self._update_banner()
        self._on_selection()

    def _can_review(self) -> bool:
        return self.role is None or ROLE_RANK.get(self.role, 0) >= ROLE_RANK["reviewer"]

    def _update_banner(self) -> None:
        count = len(self.table.queued)
        text = (
            f"{count} version{'s' if count != 1 else ''} awaiting review (as of the last sync; "
            "decisions wait in the outbox and go out with the next sync)."
            if count
            else "Nothing awaits review. New versions arrive with the next sync."
        )
        if not self._can_review():
            text += (
                f" Your registry role is {self.role}: the registry accepts reviews only from "
                "reviewers and publishers."
            )
        self.banner.setText(text)

    def reload(self) -> None:
        """Re-read the queue from the vault, keeping the selected version if still there."""
        current = self.current()
        self.evidence_reports.clear()  # runs may have finished since
        try:
            items = [
                item for item in awaiting_review(self.vault) if item.version.number is not None
            ]
            pending = pending_reviews(self.vault)
        except WorkbenchError as exc:
            self.reporter.report(exc, "read the review queue")
            return
        self.table.show_items(items, pending)
        self._update_banner()
        if current is not None:
            self.select(current.id)
        elif self.table.queued:
            self.table.selectRow(0)
        self._on_selection()

    def current(self) -> PromptVersion | None:
        return self.table.current()

    def select(self, version_id: uuid.UUID) -> bool:
        return self.table.select(version_id)

    # ---- showing one version ---------------------------------------------------------

    @Slot()
    def _on_selection(self) -> None:
        self._show(self.current())

    def _show(self, version: PromptVersion | None) -> None:
        if self.regression is not None:
            self.regression.set_version(version)
        enabled = version is not None and self._can_review()
        own = version is not None and version.author == self.vault.actor
        self.approve_button.setEnabled(enabled and not own)
        self.changes_button.setEnabled(enabled)
        why = (
            "Select a version to review first"
            if version is None
            else ""
            if enabled
            else f"Your registry role is {self.role}: only reviewers and publishers can review"
        )
        if own and not why:
            approve_tip = "You cannot approve your own version: another reviewer must"
        else:
            approve_tip = why or "Approve this version"
        self.approve_button.setToolTip(approve_tip)
        self.changes_button.setToolTip(why or "Ask for changes (a comment is required)")
        self.comment.setEnabled(version is not None)
        if version is None:
            self.title.setText("Select a version to review.")
            self.diff.clear()
            self.evidence.clear()
            self.suite.clear()
            self.state_label.clear()
            return
        try:
            self.suite.setText(suite_html(suite_review(self.vault, version.prompt)))
            base, base_title = self._base(version)
            earlier = mirrored_reviews(self.vault, version.id)
            pending = pending_reviews(self.vault).get(str(version.id), [])
        except WorkbenchError as exc:
            self.reporter.report(exc, "show the version")
            return
        self.title.setText(
            f"<b>{html.escape(version.prompt)} {html.escape(version.display_number)}</b> by "
            f"{html.escape(version.author)}: {html.escape(version.message)}"
            f"<br><span style='color:gray'>compared with {html.escape(base_title)}</span>"
        )
        if base is None:
            self.diff.setHtml(
                f"<p><b>{html.escape(version.display_number)}</b> is the first version of "
                f"{html.escape(version.prompt)}; nothing is published yet.</p>"
            )
            self.diff.rows = []
        else:
            self.diff.show_diff(base.content, version.content, base_title, version.display_number)
        self._show_evidence(version)
        notes = [
            f"{html.escape(r.reviewer)}: {r.decision.replace('_', ' ')}"
            + (
                f" with suite {short(r.suite_hash)}"
                if r.suite_hash
                else " without a suite"
                if r.decision == "approve"
                else ""
            )
            + (f" ({html.escape(r.comment)})" if r.comment else "")
            for r in earlier
        ]
        for decision, status, error in pending:
            if status == "rejected":
                notes.append(
                    f"<span style='color:#c0392b'>your {decision.replace('_', ' ')} was refused: "
                    f"{html.escape(redact(error or ''))}</span>"
                )
            else:
                notes.append(
                    f"your {decision.replace('_', ' ')} is pending (sent with the next sync)"
                )
        self.state_label.setText("<br>".join(notes))

    def _show_evidence(self, version: PromptVersion) -> None:
        """Show the version's evidence; read it off the GUI thread the first time."""
        known = self.evidence_reports.get(version.id)
        self.evidence.setText(evidence_html(known))
        if known is not None:
            return
        vault = self.vault

        def done(report: EvidenceReport) -> None:
            self.evidence_reports[version.id] = report
            shown = self.current()
            if shown is not None and shown.id == version.id:
                self.evidence.setText(evidence_html(report))
            self.evidence_loaded.emit(version.id)

        def failed(exc: BaseException) -> None:
            if not isinstance(exc, WorkbenchError):
                raise exc
            self.reporter.report(exc, "read the evidence")

        self.threads = [t for t in self.threads if t.is_alive()]
        self.threads.append(run_in_thread(lambda: find_evidence(vault, version), done, failed))

    def wait_threads(self, timeout: float = 15.0) -> None:
        for thread in self.threads:
            thread.join(timeout)

    def _base(self, version: PromptVersion) -> tuple[PromptVersion | None, str]:
        """What the version is compared with: the published version, else its parent."""
        published = published_version(self.vault, version.prompt)
        if published is not None and published.id != version.id:
            return published, f"{published.display_number} (production)"
        if version.parent_ids:
            try:
                parent = self.vault.version_by_id(version.parent_ids[0])
            except WorkbenchError:
                return None, "nothing (its parent is not in this vault)"
            return parent, f"{parent.display_number} (parent; nothing published)"
        return None, "nothing (first version)"

    # ---- deciding --------------------------------------------------------------------

    def decide(self, decision: Decision) -> int | None:
        """Queue the decision on the selected version; returns its outbox number."""
        version = self.current()
        if version is None:
            return None
        comment = self.comment.toPlainText().strip()
        try:
            if decision == "request_changes" and not comment:
                raise UsageError(
                    "say what should change", hint="Write a comment, then request changes."
                )
            report = self.evidence_reports.get(version.id) or find_evidence(self.vault, version)
            suite = reviewed_suite(self.vault, version.prompt)
        except WorkbenchError as exc:
            self.reporter.report(exc, "record the review")
            return None
        vault, recorded = self.vault, []
        # Attached only when the registry's rule accepts it for the suite (the policy's
        # models are checked by the registry, which says so in the Sync tab if not).
        evidence = review_evidence(report, version, suite=suite)

        def done(seq: int) -> None:
            recorded.append(seq)
            self.comment.clear()
            self.reload()
            self.decided.emit(version)

        self.writer.write(
            f"recording the review of {version.prompt} {version.display_number}",
            lambda: queue_review(vault, version, decision, comment, evidence, suite.suite_hash),
            done,
        )
        return recorded[0] if recorded else None  # None: failed, or queued behind an import
