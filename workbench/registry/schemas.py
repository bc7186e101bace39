"""The wire contract of the team registry, shared by the server and its clients.

Versions travel as :class:`workbench.core.models.PromptVersion`; everything else the
registry says or hears is declared here. Identity fields a client sends (``author``,
``reviewer``) are optional and only ever checked against the authenticated caller:
the server never takes identity from the body.

One text rule holds for every string a client sends (body fields at any depth, the
keys of free-form objects, free-text query parameters): no NUL character and no lone
surrogate. PostgreSQL cannot store NUL in text, and a lone surrogate is not Unicode
text at all, so the rule is checked here, before any database sees the input, and
SQLite and PostgreSQL answer the same 422.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

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


TEXT_RULE_ERROR = "text_rule"
"""The pydantic error type of a text-rule violation (its message names the field)."""


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None when it can."""
    if "\x00" in value:
        return "contains a NUL character (\\x00), which cannot be stored as text"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"contains a lone surrogate ({value[exc.start]!a}), which is not valid Unicode text"
    return None


def find_bad_text(value: object, where: str = "") -> tuple[str, str] | None:
    """The first string in ``value`` (at any depth, dict keys too) that breaks the text
    rule, as ``(dotted path, problem)``; None when every string is fine.

    Walks models, mappings and sequences with an explicit stack: input nested
    hundreds of levels deep (free-form JSON in a variable's default) cannot exhaust
    the interpreter's recursion limit.
    """
    stack: list[tuple[str, object]] = [(where, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem is not None:
                return path or "value", problem
        elif isinstance(item, BaseModel):
            for name in reversed(type(item).model_fields):
                stack.append((_join(path, name), getattr(item, name)))
        elif isinstance(item, Mapping):
            for key, child in reversed(list(item.items())):
                if isinstance(key, str):
                    problem = text_problem(key)
                    if problem is not None:
                        return _join(path, ascii(key)) + " (a key)", problem
                stack.append((_join(path, str(key)), child))
        elif isinstance(item, list | tuple | set | frozenset):
            for index, child in reversed(list(enumerate(item))):
                stack.append((_join(path, str(index)), child))
    return None


def _join(path: str, part: str) -> str:
    return f"{path}.{part}" if path else part


def check_text(value: str | None) -> str | None:
    """A field/query validator: ``value`` unchanged, or a 422-worthy error."""
    if value is not None:
        problem = text_problem(value)
        if problem is not None:
            raise PydanticCustomError(TEXT_RULE_ERROR, "the text {problem}", {"problem": problem})
    return value


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Input(_Wire):
    """What a client sends: every string in it, at any depth, obeys the text rule."""

    @model_validator(mode="before")
    @classmethod
    def _text_rule(cls, data: Any) -> Any:
        found = find_bad_text(data)
        if found is not None:
            where, problem = found
            raise PydanticCustomError(
                TEXT_RULE_ERROR,
                "{where}: the text {problem}; remove it and send again",
                {"where": where, "problem": problem},
            )
        return data


class VersionPush(_Input):
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


class ReviewIn(_Input):
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


class LabelMove(_Input):
    """Compare-and-swap: move the label to ``target`` if it still is at ``expected``."""

    expected: LabelTarget | None
    """The target the caller believes is current; null when the label must not exist yet."""
    target: LabelTarget
    reason: str = Field(default="", max_length=2_000)


class QueuedReview(_Wire):
    """A review decision waiting in the vault's outbox for the next sync (issue 10: the
    outbox is typed at this seam; the vault below only stores its JSON)."""

    version_id: uuid.UUID
    content_hash: str
    decision: Decision
    comment: str = ""
    evidence: EvalEvidence | None = None

    @classmethod
    def of(
        cls,
        version: PromptVersion,
        decision: Decision,
        comment: str = "",
        evidence: EvalEvidence | None = None,
    ) -> QueuedReview:
        return cls(
            version_id=version.id,
            content_hash=version.content_hash,
            decision=decision,
            comment=comment,
            evidence=evidence,
        )

    def describe(self) -> str:
        return self.decision.replace("_", " ")

    @property
    def note(self) -> str:
        return self.comment


class QueuedLabelMove(_Wire):
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


class ErrorBody(_Wire):
    """The body of every error answer, 4xx and 5xx alike."""

    error: str = Field(description="the kind of error, e.g. NotFoundError or InputError")
    detail: str = Field(description="what went wrong, naming the field or thing")
    hint: str | None = Field(default=None, description="what to do about it")
    expected: str | None = Field(
        default=None, description="409 on a label move: the target the caller expected"
    )
    actual: str | None = Field(
        default=None, description="409 on a label move: where the label really points"
    )


class Health(_Wire):
    status: Literal["ok"]


def check_label_name(name: str) -> str:
    """Validate a label name taken from a URL path (raises ValueError with the rule)."""
    return validate_label_name(name)
