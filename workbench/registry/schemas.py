"""The wire contract of the team registry, shared by the server and its clients.

Versions travel as :class:`workbench.core.models.PromptVersion`; everything else the
registry says or hears is declared here. Identity fields a client sends (``author``,
``reviewer``) are optional and only ever checked against the authenticated caller:
the server never takes identity from the body.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workbench.core.models import (
    PromptContent,
    PromptVersion,
    validate_label_name,
    validate_prompt_name,
)

UserRole = Literal["author", "reviewer", "publisher", "admin"]
ROLE_RANK: dict[str, int] = {"author": 0, "reviewer": 1, "publisher": 2, "admin": 3}
"""Roles are cumulative: a publisher may do what a reviewer and an author may."""

Decision = Literal["approve", "request_changes"]
ChangeKind = Literal["version", "review", "label"]
Served = Literal["primary", "canary"]

MAX_PAGE = 1000


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VersionPush(_Wire):
    """A version as an author pushes it. ``id`` makes the push idempotent."""

    id: uuid.UUID
    prompt: str = Field(max_length=200)
    content: PromptContent
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    message: str = Field(default="", max_length=10_000)
    created_at: datetime
    parent_ids: tuple[uuid.UUID, ...] = Field(default=(), max_length=8)
    author: str | None = None
    """Optional; when given it must be the caller's own name."""

    @field_validator("prompt")
    @classmethod
    def _valid_prompt(cls, name: str) -> str:
        return validate_prompt_name(name)

    @field_validator("created_at")
    @classmethod
    def _aware(cls, at: datetime) -> datetime:
        if at.tzinfo is None:
            raise ValueError("created_at needs a timezone (use UTC, e.g. '2025-01-01T00:00:00Z')")
        return at


class PushResult(_Wire):
    version: PromptVersion
    created: bool
    """False when the same version had been pushed before (an idempotent retry)."""


class EvalEvidence(_Wire):
    """A summary of an eval run attached to a review."""

    passed: int = Field(ge=0)
    failed: int = Field(ge=0)
    p95_latency_ms: float | None = Field(default=None, ge=0)
    cost_usd: float | None = Field(default=None, ge=0)
    run_id: str | None = Field(default=None, max_length=200)

    @property
    def passing(self) -> bool:
        return self.failed == 0 and self.passed > 0


class ReviewIn(_Wire):
    decision: Decision
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    """The hash the reviewer looked at; a mismatch with the version is refused."""
    comment: str = Field(default="", max_length=10_000)
    evidence: EvalEvidence | None = None
    reviewer: str | None = None
    """Optional; when given it must be the caller's own name."""


class Review(_Wire):
    id: uuid.UUID
    prompt: str
    version_id: uuid.UUID
    content_hash: str
    reviewer: str
    decision: Decision
    comment: str
    evidence: EvalEvidence | None
    created_at: datetime


class Canary(_Wire):
    version_id: uuid.UUID
    percent: int = Field(ge=1, le=99)
    """Share of caller keys served the canary version."""


class LabelTarget(_Wire):
    """Where a label points: one version, optionally splitting traffic with a canary."""

    version_id: uuid.UUID
    canary: Canary | None = None

    @model_validator(mode="after")
    def _distinct(self) -> LabelTarget:
        if self.canary is not None and self.canary.version_id == self.version_id:
            raise ValueError("the canary version must differ from the label's version")
        return self

    def describe(self) -> str:
        if self.canary is None:
            return str(self.version_id)
        return f"{self.version_id} (canary {self.canary.version_id} at {self.canary.percent}%)"


class LabelMove(_Wire):
    """Compare-and-swap: move the label to ``target`` if it still is at ``expected``."""

    expected: LabelTarget | None
    """The target the caller believes is current; null when the label must not exist yet."""
    target: LabelTarget
    reason: str = Field(default="", max_length=2_000)


class LabelState(_Wire):
    prompt: str
    name: str
    target: LabelTarget
    protected: bool
    updated_at: datetime
    updated_by: str


class Resolved(_Wire):
    """What ``resolve`` served: the version and whether it came from the canary split."""

    prompt: str
    label: str
    served: Served
    version: PromptVersion
    state: LabelState


class PromptInfo(_Wire):
    name: str
    versions: int
    latest_number: int | None
    labels: tuple[LabelState, ...]


class Change(_Wire):
    """One entry of the change feed. Exactly one of the payloads is set, per ``kind``."""

    seq: int
    kind: ChangeKind
    prompt: str
    at: datetime
    version: PromptVersion | None = None
    review: Review | None = None
    label: LabelState | None = None


class ChangePage(_Wire):
    changes: tuple[Change, ...]
    next_cursor: int
    """Pass as ``since`` to get what follows; equal to ``since`` when nothing changed."""
    has_more: bool


class AuditEntry(_Wire):
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, object]
    prev_hash: str
    hash: str


class AuditPage(_Wire):
    entries: tuple[AuditEntry, ...]
    next_cursor: int
    has_more: bool


class AuditReport(_Wire):
    ok: bool
    entries: int
    problems: tuple[str, ...]


class WhoAmI(_Wire):
    name: str
    role: UserRole


class Health(_Wire):
    status: Literal["ok"]


def check_label_name(name: str) -> str:
    """Validate a label name taken from a URL path (raises ValueError with the rule)."""
    return validate_label_name(name)
