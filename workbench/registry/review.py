"""Review and publishing, the parts the desktop app and the CLI share.

Both front ends ask the same questions (what awaits review? what is published now,
and what was before?; the evidence for a version is ``workbench.app.evidence``) and make
the same decisions (queue a review, move a label by compare-and-swap). Keeping the
answers here means one implementation behind two faces; nothing here knows about Qt
or argparse.

Reading works offline from the vault's mirror of the registry (reviews and labels
as of the last sync); :func:`current_label`, :func:`label_history` and
:func:`publish` need the registry itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from workbench.core.errors import NotFoundError, StaleLabelError
from workbench.core.models import PromptVersion
from workbench.registry.client import RegistryClient
from workbench.registry.outbox import QueuedReview, queued_decision
from workbench.registry.schemas import (
    AuditEntry,
    Canary,
    CanaryGuards,
    Decision,
    EvalEvidence,
    LabelState,
    LabelTarget,
    Review,
)
from workbench.vault.repository import Vault
from workbench.vault.sync_store import SyncStore

PUBLISHED_LABEL = "production"


@dataclass(frozen=True)
class AwaitingReview:
    """A pushed version newer than what is published, that nobody has approved yet."""

    version: PromptVersion
    changes_requested: int

    def as_row(self) -> dict[str, Any]:
        v = self.version
        return {
            "prompt": v.prompt,
            "version": v.number,
            "id": str(v.id),
            "author": v.author,
            "message": v.message,
            "changes_requested": self.changes_requested,
        }


def published_version_id(
    store: SyncStore, prompt: str, label: str = PUBLISHED_LABEL
) -> uuid.UUID | None:
    """The version ``label`` points at, as of the last sync (None: not published)."""
    for lab in store.registry_labels(prompt):
        if lab.name == label:
            return lab.version_id
    return None


def awaiting_review(vault: Vault) -> list[AwaitingReview]:
    """Pushed versions nobody approved, newer than their prompt's production target;
    prompts by name, versions oldest first. Reads only the vault (works offline), in
    one query."""
    return [
        AwaitingReview(v, changes)
        for v, changes in SyncStore(vault).awaiting_review(PUBLISHED_LABEL)
    ]


def published_version(
    vault: Vault, prompt: str, label: str = PUBLISHED_LABEL
) -> PromptVersion | None:
    """The version ``label`` points at, if the vault holds it (as of the last sync)."""
    target = published_version_id(SyncStore(vault), prompt, label)
    if target is None:
        return None
    try:
        return vault.version_by_id(target)
    except NotFoundError:
        return None


def queue_review(
    vault: Vault,
    version: PromptVersion,
    decision: Decision,
    comment: str = "",
    evidence: EvalEvidence | None = None,
    suite_hash: str | None = None,
) -> int:
    """Put a decision in the outbox; it reaches the registry with the next sync.

    ``suite_hash`` names the suite reviewed with the version (the registry's suite of
    the prompt as of the last sync; None: reviewed without one).
    Offline this is all that happens, and the decision waits, visibly pending."""
    return SyncStore(vault).queue(
        "review",
        version.prompt,
        QueuedReview.of(version, decision, comment, evidence, suite_hash),
    )


def pending_reviews(vault: Vault) -> dict[str, list[tuple[str, str, str | None]]]:
    """Queued decisions per version id: (decision, status, server's reason if refused)."""
    out: dict[str, list[tuple[str, str, str | None]]] = {}
    for entry in SyncStore(vault).outbox():
        queued = queued_decision(entry.kind, entry.payload)
        if isinstance(queued, QueuedReview):
            out.setdefault(str(queued.version_id), []).append(
                (queued.decision, entry.status, entry.error)
            )
    return out


def mirrored_reviews(vault: Vault, version_id: uuid.UUID) -> list[Review]:
    """The registry's reviews of a version, as of the last sync, oldest first."""
    return [Review.model_validate(r) for r in SyncStore(vault).reviews_for(version_id)]


# ---- publishing (needs the registry) -------------------------------------------------


def current_label(client: RegistryClient, prompt: str, label: str) -> LabelState | None:
    """Where ``label`` points now, asked of the registry (None: the label does not exist)."""
    try:
        return client.label(prompt, label)
    except NotFoundError:
        return None


def label_history(client: RegistryClient, prompt: str, limit: int = 500) -> list[AuditEntry]:
    """Every label move of ``prompt`` from the registry's audit log, oldest first."""
    page = client.audit(subject=f"prompt:{prompt}", limit=limit)
    return [e for e in page.entries if e.action.startswith("label")]


def approvals(vault: Vault, version: PromptVersion) -> list[str]:
    """Who approved ``version``, as of the last sync."""
    return sorted(
        {r.reviewer for r in mirrored_reviews(vault, version.id) if r.decision == "approve"}
    )


def langfuse_warning(version: PromptVersion) -> str | None:
    """What to tell a publisher whose version the Langfuse SDK would not compile like
    the workbench (Jinja beyond plain ``{{ name }}``); None when it is compatible. The
    registry answers such a version with 409 on its Langfuse API; the native API and
    the workbench serve it normally. The CLI and the app show the same text."""
    from workbench.core.langfuse import langfuse_problem

    problem = langfuse_problem(version.content)
    if problem is None:
        return None
    return (
        f"warning: {version.prompt} {version.display_number} is not Langfuse-compatible "
        f"({problem}). Apps reading it with the Langfuse SDK get an error (409), not the "
        "prompt; apps using the workbench API are fine. To serve Langfuse apps, publish a "
        "version that uses only '{{ name }}' placeholders."
    )


def publish(
    client: RegistryClient,
    version: PromptVersion,
    label: str,
    *,
    expected: LabelState | None,
    reason: str,
    canary: PromptVersion | None = None,
    canary_percent: int | None = None,
    canary_guards: CanaryGuards | None = None,
) -> LabelState:
    """Move ``label`` onto ``version`` if it still points where the caller saw it.

    With ``canary``, that version serves ``canary_percent`` of callers (chosen per
    caller key) and ``version`` the rest; publishing without one ends a canary.
    Rollback is the same call with an earlier version. The registry enforces the
    rules (role, approval by someone else, for the canary too); its refusal arrives
    as an exception whose message is the server's reason. Retrying after the registry
    went away is safe: a label already at ``version`` counts as published."""
    split = None
    if canary is not None:
        split = Canary(version_id=canary.id, percent=canary_percent or 10, guards=canary_guards)
    target = LabelTarget(version_id=version.id, canary=split)
    try:
        return client.move_label(
            version.prompt,
            label,
            target=target,
            expected=expected.target if expected is not None else None,
            reason=reason,
        )
    except StaleLabelError as exc:
        # A retry after the registry went away mid-request: the first attempt got
        # through, so the label is already where it was asked to go. That is done,
        # not a lost race (any other target is one, and is raised).
        if exc.actual != target.describe():
            raise
        return client.label(version.prompt, label)
