"""The sync outbox's entries: decisions (reviews, label moves) a vault keeps until
the next sync sends them. Typed at this seam; the vault below stores only their JSON."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from workbench.core.models import PromptVersion
from workbench.registry.schemas import Decision, EvalEvidence, LabelTarget, WireModel


class QueuedReview(WireModel):
    """A review decision waiting in the vault's outbox for the next sync ."""

    version_id: uuid.UUID
    content_hash: str
    decision: Decision
    comment: str = ""
    evidence: EvalEvidence | None = None
    suite_hash: str | None = None

    @classmethod
    def of(
        cls,
        version: PromptVersion,
        decision: Decision,
        comment: str = "",
        evidence: EvalEvidence | None = None,
        suite_hash: str | None = None,
    ) -> QueuedReview:
        return cls(
            version_id=version.id,
            content_hash=version.content_hash,
            decision=decision,
            comment=comment,
            evidence=evidence,
            suite_hash=suite_hash,
        )

    def describe(self) -> str:
        return self.decision.replace("_", " ")

    @property
    def note(self) -> str:
        return self.comment


class QueuedLabelMove(WireModel):
    """A label move waiting in the outbox (a compare-and-swap, like :class:`LabelMove`)."""

    label: str
    target: LabelTarget
    expected: LabelTarget | None = None
    reason: str = ""

    @property
    def note(self) -> str:
        return self.reason


QueuedDecision = QueuedReview | QueuedLabelMove


def queued_decision(kind: str, payload: Mapping[str, Any]) -> QueuedDecision:
    """The typed outbox payload of an entry of ``kind`` ("review" or "label")."""
    if kind == "review":
        return QueuedReview.model_validate(payload)
    if kind == "label":
        return QueuedLabelMove.model_validate(payload)
    raise ValueError(f"unknown outbox entry kind {kind!r}")
