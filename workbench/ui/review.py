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

from PySide6.QtCore import QEvent, QObject, QRect, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
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
    AwaitingReview,
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
from workbench.ui.table_model import setup_row_table
from workbench.vault import Vault

EVIDENCE_HEADERS = (
    "Model", "Calls", "Errors", "Pass rate", "TTFT p50", "Latency p95", "Tokens in/out", "Cost",
)  # fmt: skip


def fmt_rate(passed: int, calls: int, checked: int) -> str:
    rate = pass_rate(passed, calls, checked)
    return "no checks" if rate is None else f"{rate:.0%} ({passed}/{calls})"


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
    rows = [f"<table cellspacing='0' cellpadding='3'><tr>{header}</tr>"]
    for r in evidence.rows:
        tokens = (
            f"{fmt_tokens(r.input_tokens, r.tokens_estimated)} / "
            f"{fmt_tokens(r.output_tokens, r.tokens_estimated)}"
        )
        cells = [
            html.escape(model_label(str(r.model), r.echo)),
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

    HEADERS = ("Prompt", "Version", "Author", "Message", "State")

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
        self.items: list[AwaitingReview] = []
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
        self.table = QTableWidget(0, len(self.HEADERS))
        self.table.setObjectName("reviewQueue")
        self.table.setHorizontalHeaderLabels(list(self.HEADERS))
        setup_row_table(
            self.table, stretch_column=3, selection=QAbstractItemView.SelectionMode.SingleSelection
        )
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # A prompt's whole name is what a reviewer reads (the folder tells
        # "billing/…" from "support/…"): when the queue is too narrow for it on one
        # line it wraps after its "/" (rows grow), and only a leaf longer than the
        # column is elided, in the middle; tooltips hold it all.
        self.table.setWordWrap(True)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.viewport().installEventFilter(self)
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
        count = len(self.items)
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
            self.items = [
                item for item in awaiting_review(self.vault) if item.version.number is not None
            ]
            pending = pending_reviews(self.vault)
        except WorkbenchError as exc:
            self.reporter.report(exc, "read the review queue")
            return
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.items))
        for row, item in enumerate(self.items):
            v = item.version
            state = _state_text(item, pending.get(str(v.id), []))
            for col, text in enumerate((v.prompt, v.display_number, v.author, v.message, state)):
                cell = QTableWidgetItem(text)
                cell.setToolTip(text)
                self.table.setItem(row, col, cell)
        self.table.blockSignals(False)
        self.fit_columns()
        self._update_banner()
        if current is not None:
            self.select(current.id)
        elif self.items:
            self.table.selectRow(0)
        self._on_selection()

    OPTIONAL_COLUMNS = (3, 2)
    """Message, then Author: hidden in that order when the queue is too narrow for
    every column (the title above the diff names both)."""

    def fit_columns(self) -> None:
        """Every shown column fits the queue's width: Prompt, Version and State always
        show (State is what a reviewer scans for); Message and Author show when there
        is room. A prompt name is shown whole, on one line when there is room, else
        wrapped after its folder ("billing/" over "invoice-summary")."""
        header = self.table.horizontalHeader()
        for col in range(len(self.HEADERS)):
            self.table.setColumnHidden(col, False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        metrics = self.table.fontMetrics()
        pad = metrics.horizontalAdvance("x") * 2  # the cell's margins
        names = [item.version.prompt for item in self.items]
        whole = max((metrics.horizontalAdvance(n) for n in names), default=0) + pad
        # The narrowest a name wraps to: its folder and its leaf on lines of their
        # own, a long leaf broken after its hyphens ("invoice-" over "summary").
        parts = max(
            (
                metrics.horizontalAdvance(word + "-")
                for n in names
                for p in n.split("/")
                for word in p.split("-")
            ),
            default=0,
        )
        narrowest = max(parts + pad, header.sectionSizeHint(0))
        header.resizeSection(0, max(whole, header.sectionSizeHint(0)))
        available = self.table.viewport().width()
        minimum = metrics.horizontalAdvance("x" * 12)  # a Message worth showing

        def needed() -> int:
            width = 0
            for col in range(len(self.HEADERS)):
                if self.table.isColumnHidden(col):
                    continue
                if col == 3:
                    width += minimum
                elif col == 0:
                    width += header.sectionSize(0)
                else:
                    width += max(header.sectionSizeHint(col), self.table.sizeHintForColumn(col))
            return width

        for col in self.OPTIONAL_COLUMNS:
            if needed() <= available:
                break
            self.table.setColumnHidden(col, True)
        if needed() > available:  # still too wide: the prompt names wrap
            spare = available - (needed() - header.sectionSize(0))
            header.resizeSection(0, max(spare, narrowest))
            # Still cut: the queue takes the room it needs from the diff, which keeps
            # at least 60% of the width (the evidence table fits in that at 1024 px).
            sizes = self.split.sizes()
            room = sizes[1] - int(0.6 * sum(sizes)) if len(sizes) == 2 else 0
            deficit = needed() - available
            if deficit > 0 and room > 0:
                grow = min(deficit, room)
                self.split.setSizes([sizes[0] + grow, sizes[1] - grow])  # fits again
        # Rows as tall as their prompt name needs (not the Message: it stays on one
        # line, elided, its tooltip whole).
        line = self.table.verticalHeader().defaultSectionSize()
        width = header.sectionSize(0) - pad
        wrap = int(Qt.TextFlag.TextWordWrap)
        for row, name in enumerate(names):
            lines = metrics.boundingRect(QRect(0, 0, width, 10_000), wrap, name).height()
            extra = lines - metrics.height()
            self.table.setRowHeight(row, line + max(0, extra))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self.fit_columns()
        return super().eventFilter(watched, event)

    def current(self) -> PromptVersion | None:
        rows = {i.row() for i in self.table.selectionModel().selectedRows()}
        if not rows or min(rows) >= len(self.items):
            return None
        return self.items[min(rows)].version

    def select(self, version_id: uuid.UUID) -> bool:
        for row, item in enumerate(self.items):
            if item.version.id == version_id:
                self.table.selectRow(row)
                return True
        return False

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


def _state_text(item: AwaitingReview, pending: list[tuple[str, str, str | None]]) -> str:
    if pending:
        decision, status, _error = pending[-1]
        verb = decision.replace("_", " ")
        return f"{verb}: refused" if status == "rejected" else f"{verb}: pending"
    if item.changes_requested:
        return f"changes requested ×{item.changes_requested}"
    return "awaiting"
