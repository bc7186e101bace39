"""Offline-first sync between a local vault and the team registry.

One round: push every unpushed version (oldest first, so parents go first; the
registry is idempotent by version id), push each pushed prompt's test suite when its
cases changed here (a compare-and-swap on the registry's suite as of the last sync),
push the outbox of decisions made offline
(reviews, label moves), then pull the change feed from the stored cursor, each page
applied in one vault transaction with its cursor. A crash or a dropped connection
at any point is repaired by the next round: nothing is duplicated, nothing lost.

Labels: the feed says which labels moved; their current state goes into the vault's
label table and their moves (the registry's audit entries for the prompt, fetched
only for prompts whose labels moved) into its label history, in the page's
transaction. The registry is the truth for a synced prompt's labels.

Suites: a change of kind ``suite`` carries a prompt's new current suite; the page's
transaction stores it and replaces the local cases unless they were changed here and
not pushed (``workbench.vault.suites``), so a reviewer gets the author's cases.

A refusal from the registry (a rule, a stale compare-and-swap) stays in the outbox,
marked rejected with the server's reason, until the person dismisses it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from workbench.core.errors import (
    ConflictError,
    HashMismatchError,
    InputError,
    NotFoundError,
    StaleLabelError,
    WorkbenchError,
)
from workbench.core.models import Label, LabelEvent, PromptVersion
from workbench.registry.client import RegistryClient
from workbench.registry.errors import (
    AuthenticationError,
    PermissionDeniedError,
    RegistryUnavailableError,
)
from workbench.registry.outbox import QueuedDecision, QueuedLabelMove, QueuedReview, queued_decision
from workbench.registry.schemas import (
    AuditEntry,
    Canary,
    Change,
    Decision,
    EvalEvidence,
    LabelState,
    LabelTarget,
)
from workbench.vault.repository import Vault
from workbench.vault.suites import SuiteCopy, SuiteStore
from workbench.vault.sync_store import SyncStore

log = logging.getLogger(__name__)

PAGE_SIZE = 500
TOKEN_KEY_PREFIX = "registry-token:"


def token_key_name(url: str) -> str:
    """The keychain entry that holds the token for the registry at ``url``."""
    return TOKEN_KEY_PREFIX + url.rstrip("/")


@dataclass
class SyncReport:
    pushed_versions: int = 0
    pushed_decisions: int = 0
    already_sent_decisions: int = 0
    """Queued decisions the registry already had (a repeat, or a retry after a lost
    answer): done, not sent again, not counted as pushed."""
    pulled_changes: int = 0
    new_versions: int = 0
    labels: int = 0
    """Label states mirrored from the registry."""
    dropped_local_labels: list[str] = field(default_factory=list)
    """Local labels (prompt@label) of prompts the registry holds, replaced by its labels."""
    rejected: list[str] = field(default_factory=list)
    cursor: int = 0
    pushed_suites: int = 0
    pulled_suites: int = 0
    kept_local_cases: list[str] = field(default_factory=list)
    """Prompts whose cases were changed here and kept over the registry's newer suite."""

    @property
    def vault_changed(self) -> bool:
        """Whether the round changed what the vault shows (numbers, versions, labels)."""
        return bool(
            self.pushed_versions
            or self.pulled_changes
            or self.new_versions
            or self.labels
            or self.pushed_suites
        )

    def summary(self) -> str:
        parts = [
            f"pushed {self.pushed_versions} versions, {self.pushed_decisions} decisions"
            + (
                f" ({self.already_sent_decisions} already in the registry)"
                if self.already_sent_decisions
                else ""
            ),
            f"pulled {self.pulled_changes} changes ({self.new_versions} new versions)",
        ]
        if self.pushed_suites or self.pulled_suites:
            parts.append(f"suites: pushed {self.pushed_suites}, pulled {self.pulled_suites}")
        text = "; ".join(parts)
        if self.kept_local_cases:
            text += (
                "\nyour cases differ from the registry's newer suite (kept yours; they replace "
                "it on the next sync unless you merge them first): "
                + ", ".join(self.kept_local_cases)
            )
        if self.dropped_local_labels:
            text += (
                "\nlocal labels replaced by the registry's (it holds these prompts): "
                + ", ".join(self.dropped_local_labels)
            )
        if self.rejected:
            text += "\nrefused by the registry:\n  " + "\n  ".join(self.rejected)
        return text


def _refusal(err: WorkbenchError) -> bool:
    """Errors that mean "the registry said no" (kept, shown), not "try again later"."""
    return isinstance(err, ConflictError | PermissionDeniedError | InputError | NotFoundError)


class Syncer:
    def __init__(self, vault: Vault, client: RegistryClient) -> None:
        self.vault = vault
        self.client = client
        self.store = SyncStore(vault)
        self._me: str | None = None  # the token's user name, asked once when needed
        self.store.bind_registry(client.base_url)

    def sync(self) -> SyncReport:
        report = SyncReport()
        self.push_versions(report)
        self.push_suites(report)
        self.push_outbox(report)
        self.pull(report)
        return report

    # ---- push ------------------------------------------------------------------------

    def push_versions(self, report: SyncReport) -> None:
        refused_prompts: set[str] = set()
        for version in self.store.drafts():
            if version.prompt in refused_prompts:
                continue  # a child of a refused version would be refused too
            try:
                result = self.client.push_version(version)
            except (RegistryUnavailableError, AuthenticationError):
                raise
            except HashMismatchError as err:
                report.rejected.append(f"{version.prompt} {version.short_id}: {err.message}")
                refused_prompts.add(version.prompt)
                continue
            except WorkbenchError as err:
                if not _refusal(err):
                    raise
                report.rejected.append(f"{version.prompt} {version.short_id}: {err.message}")
                refused_prompts.add(version.prompt)
                continue
            if result.version.number is not None:
                # The registry names the author (the token's user); keep its word.
                self.vault.set_number(version.id, result.version.number, result.version.author)
            if result.created and result.version.author:
                self._learn_me(result.version.author)
            report.pushed_versions += 1

    def push_suites(self, report: SyncReport) -> None:
        """Push each pushed prompt's local suite whose hash differs from the registry's."""
        for item in SuiteStore(self.vault).to_push():
            try:
                suite = self.client.push_suite(
                    item.prompt, item.cases, parent_hash=item.parent_hash
                )
            except (RegistryUnavailableError, AuthenticationError):
                raise
            except WorkbenchError as err:
                if not _refusal(err):
                    raise
                report.rejected.append(f"suite of {item.prompt}: {err.message}")
                continue
            SuiteStore(self.vault).record(
                SuiteCopy(
                    suite.prompt, suite.suite_hash, suite.cases, suite.author, suite.pushed_at
                )
            )
            report.pushed_suites += 1

    def push_outbox(self, report: SyncReport) -> None:
        for entry in self.store.outbox(include_rejected=False):
            queued = queued_decision(entry.kind, entry.payload)
            try:
                sent = self._send(entry.prompt, queued)
            except (RegistryUnavailableError, AuthenticationError):
                raise
            except StaleLabelError as err:
                # A retry of a move whose answer was lost (a crash, a dropped connection)
                # finds the label already where we wanted it: that is success, not a refusal.
                if not isinstance(queued, QueuedLabelMove) or (
                    err.actual != queued.target.describe()
                ):
                    self.store.reject(entry.seq, err.message)
                    report.rejected.append(f"{entry.kind} on {entry.prompt}: {err.message}")
                    continue
            except WorkbenchError as err:
                if not _refusal(err):
                    raise
                self.store.reject(entry.seq, err.message)
                report.rejected.append(f"{entry.kind} on {entry.prompt}: {err.message}")
                continue
            else:
                if not sent:
                    self.store.done(entry.seq)
                    report.already_sent_decisions += 1
                    continue
            self.store.done(entry.seq)
            report.pushed_decisions += 1

    def _send(self, prompt: str, queued: QueuedDecision) -> bool:
        """Send one queued decision; False when the registry already had it."""
        if isinstance(queued, QueuedReview):
            if self._already_reviewed(queued):
                return False
            self.client.review(
                queued.version_id,
                decision=queued.decision,
                content_hash=queued.content_hash,
                comment=queued.comment,
                evidence=queued.evidence,
                suite_hash=queued.suite_hash,
            )
        else:
            self.client.move_label(
                prompt,
                queued.label,
                target=queued.target,
                expected=queued.expected,
                reason=queued.reason,
            )
        return True

    def _already_reviewed(self, queued: QueuedReview) -> bool:
        """Whether this decision already reached the registry.

        Reviews carry no client-made id, so a retry after a lost answer (a crash between
        the server's commit and ``done``, a dropped connection) would record it twice.
        If our own latest review of the version is this very decision, it arrived.
        """
        if self._me is None:
            self._learn_me(self.client.whoami().name)
        mine = [r for r in self.client.reviews(queued.version_id) if r.reviewer == self._me]
        if not mine:
            return False
        last = mine[-1]
        return (
            last.decision == queued.decision
            and last.content_hash == queued.content_hash
            and last.comment == queued.comment
            and last.evidence == queued.evidence
            and last.suite_hash == queued.suite_hash
        )

    def _learn_me(self, name: str) -> None:
        """The token's user: the vault's author from now on (see ``Vault.registry_user``)."""
        self._me = name
        self.store.set_registry_user(name)

    # ---- pull ------------------------------------------------------------------------

    def pull(self, report: SyncReport) -> None:
        cursor = self.store.cursor()
        while True:
            page = self.client.changes(cursor, limit=PAGE_SIZE)
            versions: list[PromptVersion] = []
            reviews: list[tuple[str, str, str, str]] = []
            labels: list[Label] = []
            suites: list[SuiteCopy] = []
            for change in page.changes:
                self._collect(change, versions, reviews, labels)
                if change.suite is not None:
                    x = change.suite
                    suites.append(SuiteCopy(x.prompt, x.suite_hash, x.cases, x.author, x.pushed_at))
            events = [e for p in sorted({lab.prompt for lab in labels}) for e in self._moves(p)]
            applied = self.store.apply_page(
                versions, reviews, labels, page.next_cursor, events, suites
            )
            report.pulled_suites += applied.suites
            report.kept_local_cases += applied.kept_local_cases
            report.new_versions += applied.new_versions
            report.labels += applied.labels
            report.dropped_local_labels += applied.dropped_local
            report.pulled_changes += len(page.changes)
            cursor = page.next_cursor
            if not page.has_more:
                break
        report.cursor = cursor

    @staticmethod
    def _collect(
        change: Change,
        versions: list[PromptVersion],
        reviews: list[tuple[str, str, str, str]],
        labels: list[Label],
    ) -> None:
        if change.version is not None:
            versions.append(change.version)
        if change.review is not None:
            r = change.review
            reviews.append((str(r.id), r.prompt, str(r.version_id), r.model_dump_json()))
        if change.label is not None:
            labels.append(mirrored_label(change.label))

    def _moves(self, prompt: str) -> list[LabelEvent]:
        """The registry's label moves of ``prompt`` this vault has not mirrored yet."""
        since = self.store.label_audit_cursor(prompt)
        out: list[LabelEvent] = []
        while True:
            page = self.client.audit(since, limit=PAGE_SIZE, subject=f"prompt:{prompt}")
            out += [e for e in map(label_event, page.entries) if e is not None]
            since = page.next_cursor
            if not page.has_more:
                return out

    # ---- decisions (queued; sent on the next sync) -------------------------------------

    def queue_review(
        self,
        version: PromptVersion,
        decision: Decision,
        comment: str = "",
        evidence: EvalEvidence | None = None,
        suite_hash: str | None = None,
    ) -> int:
        return self.store.queue(
            "review",
            version.prompt,
            QueuedReview.of(version, decision, comment, evidence, suite_hash),
        )


def mirrored_label(state: LabelState) -> Label:
    """The registry's label state as the vault keeps it."""
    canary = state.target.canary
    return Label(
        prompt=state.prompt,
        name=state.name,
        version_id=state.target.version_id,
        updated_at=state.updated_at,
        source="registry",
        canary_version_id=canary.version_id if canary else None,
        canary_percent=canary.percent if canary else None,
        protected=state.protected,
        updated_by=state.updated_by,
    )


def wire_label(label: Label) -> LabelState:
    """A mirrored label in the registry's wire shape (the inverse of :func:`mirrored_label`)."""
    canary = None
    if label.canary_version_id is not None and label.canary_percent:
        canary = Canary(version_id=label.canary_version_id, percent=label.canary_percent)
    return LabelState(
        prompt=label.prompt,
        name=label.name,
        target=LabelTarget(version_id=label.version_id, canary=canary),
        protected=label.protected,
        updated_at=label.updated_at,
        updated_by=label.updated_by,
    )


def label_event(entry: AuditEntry) -> LabelEvent | None:
    """A registry audit entry as a label move (None for entries about other things)."""
    if not entry.action.startswith("label") or not entry.subject.startswith("prompt:"):
        return None
    detail = entry.detail
    try:
        to = LabelTarget.model_validate(detail["to"]) if detail.get("to") else None
        old = LabelTarget.model_validate(detail["from"]) if detail.get("from") else None
        number = detail.get("to_number")
        return LabelEvent(
            prompt=entry.subject.removeprefix("prompt:"),
            label=str(detail["label"]),
            at=entry.at,
            actor=entry.actor,
            from_version_id=old.version_id if old else None,
            to_version_id=to.version_id if to else None,
            to_number=number if isinstance(number, int) else None,
            canary_version_id=to.canary.version_id if to and to.canary else None,
            canary_percent=to.canary.percent if to and to.canary else None,
            reason=str(detail.get("reason") or ""),
            source="registry",
            registry_seq=entry.seq,
        )
    except (KeyError, ValueError) as exc:  # an entry shape this client does not know
        log.warning("skipped label audit entry %s of %s: %s", entry.seq, entry.subject, exc)
        return None
