"""Offline-first sync between a local vault and the team registry.

One round: push every unpushed version (oldest first, so parents go first; the
registry is idempotent by version id), push the outbox of decisions made offline
(reviews, label moves), then pull the change feed from the stored cursor, each page
applied in one vault transaction with its cursor. A crash or a dropped connection
at any point is repaired by the next round: nothing is duplicated, nothing lost.

A refusal from the registry (a rule, a stale compare-and-swap) stays in the outbox,
marked rejected with the server's reason, until the person dismisses it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from workbench.core.errors import (
    ConflictError,
    HashMismatchError,
    InputError,
    NotFoundError,
    StaleLabelError,
    WorkbenchError,
)
from workbench.core.models import PromptVersion
from workbench.registry.client import RegistryClient
from workbench.registry.errors import (
    AuthenticationError,
    PermissionDeniedError,
    RegistryUnavailableError,
)
from workbench.registry.schemas import Change, EvalEvidence, LabelTarget
from workbench.vault.repository import Vault
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
    pulled_changes: int = 0
    new_versions: int = 0
    rejected: list[str] = field(default_factory=list)
    cursor: int = 0

    def summary(self) -> str:
        parts = [
            f"pushed {self.pushed_versions} versions, {self.pushed_decisions} decisions",
            f"pulled {self.pulled_changes} changes ({self.new_versions} new versions)",
        ]
        text = "; ".join(parts)
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
                self.vault.set_number(version.id, result.version.number)
            report.pushed_versions += 1

    def push_outbox(self, report: SyncReport) -> None:
        for entry in self.store.outbox(include_rejected=False):
            try:
                self._send(entry.kind, entry.prompt, entry.payload)
            except (RegistryUnavailableError, AuthenticationError):
                raise
            except StaleLabelError as err:
                # A retry of a move whose answer was lost (a crash, a dropped connection)
                # finds the label already where we wanted it: that is success, not a refusal.
                target = LabelTarget.model_validate(entry.payload["target"])
                if err.actual != target.describe():
                    self.store.reject(entry.seq, err.message)
                    report.rejected.append(f"{entry.kind} on {entry.prompt}: {err.message}")
                    continue
            except WorkbenchError as err:
                if not _refusal(err):
                    raise
                self.store.reject(entry.seq, err.message)
                report.rejected.append(f"{entry.kind} on {entry.prompt}: {err.message}")
                continue
            self.store.done(entry.seq)
            report.pushed_decisions += 1

    def _send(self, kind: str, prompt: str, payload: dict[str, Any]) -> None:
        if kind == "review":
            evidence = payload.get("evidence")
            if self._already_reviewed(payload):
                return
            self.client.review(
                uuid.UUID(payload["version_id"]),
                decision=payload["decision"],
                content_hash=payload["content_hash"],
                comment=payload.get("comment", ""),
                evidence=EvalEvidence.model_validate(evidence) if evidence else None,
            )
        elif kind == "label":
            expected = payload.get("expected")
            self.client.move_label(
                prompt,
                payload["label"],
                target=LabelTarget.model_validate(payload["target"]),
                expected=LabelTarget.model_validate(expected) if expected else None,
                reason=payload.get("reason", ""),
            )
        else:  # pragma: no cover - the vault only stores the kinds above
            raise ValueError(f"unknown outbox entry kind {kind!r}")

    def _already_reviewed(self, payload: dict[str, Any]) -> bool:
        """Whether this decision already reached the registry.

        Reviews carry no client-made id, so a retry after a lost answer (a crash between
        the server's commit and ``done``, a dropped connection) would record it twice.
        If our own latest review of the version is this very decision, it arrived.
        """
        if self._me is None:
            self._me = self.client.whoami().name
        mine = [
            r
            for r in self.client.reviews(uuid.UUID(payload["version_id"]))
            if r.reviewer == self._me
        ]
        if not mine:
            return False
        last = mine[-1]
        evidence = payload.get("evidence")
        return (
            last.decision == payload["decision"]
            and last.content_hash == payload["content_hash"]
            and last.comment == payload.get("comment", "")
            and (last.evidence.model_dump(mode="json") if last.evidence else None) == evidence
        )

    # ---- pull ------------------------------------------------------------------------

    def pull(self, report: SyncReport) -> None:
        cursor = self.store.cursor()
        while True:
            page = self.client.changes(cursor, limit=PAGE_SIZE)
            versions: list[PromptVersion] = []
            reviews: list[tuple[str, str, str, str]] = []
            labels: list[tuple[str, str, str]] = []
            for change in page.changes:
                self._collect(change, versions, reviews, labels)
            report.new_versions += self.store.apply_page(
                versions, reviews, labels, page.next_cursor
            )
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
        labels: list[tuple[str, str, str]],
    ) -> None:
        if change.version is not None:
            versions.append(change.version)
        if change.review is not None:
            r = change.review
            reviews.append((str(r.id), r.prompt, str(r.version_id), r.model_dump_json()))
        if change.label is not None:
            lab = change.label
            labels.append((lab.prompt, lab.name, lab.model_dump_json()))

    # ---- decisions (queued; sent on the next sync) -------------------------------------

    def queue_review(
        self,
        version: PromptVersion,
        decision: str,
        comment: str = "",
        evidence: EvalEvidence | None = None,
    ) -> int:
        payload: dict[str, Any] = {
            "version_id": str(version.id),
            "content_hash": version.content_hash,
            "decision": decision,
            "comment": comment,
        }
        if evidence is not None:
            payload["evidence"] = evidence.model_dump(mode="json")
        return self.store.queue("review", version.prompt, payload)
