"""The wire contract of the team registry, shared by the server and its clients.

Versions travel as :class:`workbench.core.models.PromptVersion`; everything else the
registry says or hears about versions, reviews, suites, labels, the change feed and
the audit log is declared here (production telemetry's wire types are in
:mod:`workbench.registry.telemetry_schemas`; the sync outbox's entries, which never
travel as such, in :mod:`workbench.registry.outbox`). Identity fields a client sends
(``author``, ``reviewer``) are optional and only ever checked against the
authenticated caller: the server never takes identity from the body.

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
    MAX_PROMPT_NAME,
    AuditEvent,
    PromptContent,
    PromptVersion,
    validate_label_name,
    validate_prompt_name,
)
from workbench.core.runs import TestCase

UserRole = Literal["app", "author", "reviewer", "publisher", "admin"]
ROLE_RANK: dict[str, int] = {"app": -1, "author": 0, "reviewer": 1, "publisher": 2, "admin": 3}
"""Roles are cumulative: a publisher may do what a reviewer and an author may. ``app``
sits below ``author``: a production app's token reads prompts and sends telemetry,
and can change nothing."""

Decision = Literal["approve", "request_changes"]
ChangeKind = Literal["version", "review", "label", "suite"]
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


class WireModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InputModel(WireModel):
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


class VersionPush(InputModel):
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

    @classmethod
    def of(cls, version: PromptVersion) -> VersionPush:
        """A local version as it is pushed: its fields by name (no number: the registry
        gives it; no author: the registry names the token's user)."""
        return cls(**{n: getattr(version, n) for n in cls.model_fields if n != "author"})

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


class PushResult(WireModel):
    version: PromptVersion
    created: bool
    """False when the same version had been pushed before (an idempotent retry)."""


HASH_PATTERN = r"^[0-9a-f]{64}$"


class EvalEvidence(WireModel):
    """A summary of an eval run attached to a review.

    The binding fields (``content_hash``, ``suite_hash``, ``finished``, ``models``,
    ``cases_run``) say what the run covers; the registry accepts evidence only when
    they match the version and suite reviewed and the folder's policy (see
    :mod:`workbench.registry.policy`). Summaries from before they existed lack them
    and are refused as evidence."""

    passed: int = Field(ge=0)
    failed: int = Field(ge=0)
    p95_latency_ms: float | None = Field(default=None, ge=0)
    cost_usd: float | None = Field(default=None, ge=0)
    run_id: str | None = Field(default=None, max_length=200)
    content_hash: str | None = Field(default=None, pattern=HASH_PATTERN)
    """The version the run tried."""
    suite_hash: str | None = Field(default=None, pattern=HASH_PATTERN)
    """The suite the run ran (None: the declared defaults only, no suite)."""
    finished: bool | None = None
    """True: the run finished with every cell of its matrix stored."""
    models: tuple[str, ...] = Field(default=(), max_length=100)
    """The models (``profile:model``) the run ran every case on."""
    cases_run: int | None = Field(default=None, ge=0)
    """How many distinct cases the run ran on each of its models."""

    @property
    def passing(self) -> bool:
        return self.failed == 0 and self.passed > 0

    @property
    def pass_rate(self) -> float | None:
        calls = self.passed + self.failed
        return self.passed / calls if calls else None


class ReviewIn(InputModel):
    decision: Decision
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    """The hash the reviewer looked at; a mismatch with the version is refused."""
    suite_hash: str | None = Field(default=None, pattern=HASH_PATTERN)
    """The suite the reviewer looked at (pushed before); None: reviewed without one."""
    comment: str = Field(default="", max_length=10_000)
    evidence: EvalEvidence | None = None
    reviewer: str | None = None
    """Optional; when given it must be the caller's own name."""


class Review(WireModel):
    id: uuid.UUID
    prompt: str
    version_id: uuid.UUID
    content_hash: str
    reviewer: str
    decision: Decision
    comment: str
    evidence: EvalEvidence | None
    created_at: datetime
    suite_hash: str | None = None
    """The suite the review names; None: approved without a suite (reviews from before
    suites travelled, or of a prompt that has none)."""


MAX_SUITE_CASES = 10_000


class SuitePush(InputModel):
    """A prompt's test suite as its author pushes it (``PUT .../suite``).

    ``parent_hash`` makes it a compare-and-swap: the suite the author started from (as
    of their last sync; None: the prompt had none). The registry refuses the push when
    the prompt's current suite is another one, so two authors' cases never silently
    overwrite each other."""

    suite_hash: str = Field(pattern=HASH_PATTERN)
    cases: tuple[TestCase, ...] = Field(min_length=1, max_length=MAX_SUITE_CASES)
    parent_hash: str | None = Field(default=None, pattern=HASH_PATTERN)


class Suite(WireModel):
    """A pushed suite: content-addressed by ``suite_hash``, current for ``prompt``."""

    prompt: str
    suite_hash: str
    cases: tuple[TestCase, ...]
    author: str
    pushed_at: datetime


class FolderPolicy(InputModel):
    """What evidence must show for the prompts of a folder (set by an admin).

    ``folder`` "" holds for every prompt; "support" for ``support/...``; the deepest
    folder that has a policy is the one in force."""

    folder: str = Field(default="", max_length=MAX_PROMPT_NAME)
    required_models: tuple[str, ...] = Field(default=(), max_length=50)
    """Every case must have run on each of these (``profile:model``)."""
    min_pass_rate: float | None = Field(default=None, ge=0, le=1)
    max_p95_ms: float | None = Field(default=None, gt=0)
    max_cost_usd: float | None = Field(default=None, ge=0)
    """The whole evidence run's cost."""

    @field_validator("folder")
    @classmethod
    def _valid_folder(cls, folder: str) -> str:
        folder = folder.strip("/")
        return validate_prompt_name(folder) if folder else ""

    def describe(self) -> str:
        parts = []
        if self.required_models:
            parts.append("models " + ", ".join(self.required_models))
        if self.min_pass_rate is not None:
            parts.append(f"pass rate >= {self.min_pass_rate * 100:g}%")
        if self.max_p95_ms is not None:
            parts.append(f"p95 <= {self.max_p95_ms:g} ms")
        if self.max_cost_usd is not None:
            parts.append(f"cost <= ${self.max_cost_usd:g}")
        where = f"{self.folder}/" if self.folder else "every prompt"
        return f"{where}: {'; '.join(parts) or 'no requirement'}"


class CanaryGuards(WireModel):
    """Guard rails of a canary, checked by the registry as production spans arrive.

    Each limit is optional. Absolute limits compare the canary's own figures;
    ``*_over_stable`` / ``*_ratio`` ones compare it with the label's stable version over
    the same window (judged only once the stable version has ``min_calls`` calls too).
    Nothing is judged before the canary has ``min_calls`` calls. When one limit is
    crossed the registry moves the label back to its stable version by itself.
    """

    min_calls: int = Field(default=50, ge=1, le=10_000_000)
    max_error_rate: float | None = Field(default=None, ge=0, le=1)
    """Errors per call, e.g. 0.05."""
    max_error_rate_over_stable: float | None = Field(default=None, ge=0, le=1)
    """How much the canary's error rate may exceed the stable one's, e.g. 0.02 (2 points)."""
    max_p95_ms: float | None = Field(default=None, gt=0)
    max_p95_ratio: float | None = Field(default=None, gt=0)
    """The canary's p95 latency over the stable one's, e.g. 1.5."""
    max_cost_per_call_usd: float | None = Field(default=None, ge=0)
    max_cost_ratio: float | None = Field(default=None, gt=0)
    """The canary's cost per priced call over the stable one's, e.g. 1.2."""

    def any_limit(self) -> bool:
        return any(
            v is not None
            for v in (
                self.max_error_rate,
                self.max_error_rate_over_stable,
                self.max_p95_ms,
                self.max_p95_ratio,
                self.max_cost_per_call_usd,
                self.max_cost_ratio,
            )
        )


class Canary(WireModel):
    version_id: uuid.UUID
    percent: int = Field(ge=1, le=99)
    """Share of caller keys served the canary version."""
    guards: CanaryGuards | None = None
    """Limits that halt the canary by themselves (see :class:`CanaryGuards`)."""


class LabelTarget(WireModel):
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


class LabelMove(InputModel):
    """Compare-and-swap: move the label to ``target`` if it still is at ``expected``."""

    expected: LabelTarget | None
    """The target the caller believes is current; null when the label must not exist yet."""
    target: LabelTarget
    reason: str = Field(
        default="",
        max_length=2_000,
        description="Why the label moves, for the audit log: the registry refuses a blank one.",
    )


class CanaryHalt(WireModel):
    """Why the registry halted the label's last canary by itself, with the figures."""

    at: datetime
    canary_version_id: uuid.UUID
    canary_number: int
    reason: str
    """One line, e.g. 'error rate 31.0% over the limit 5.0% (120 calls)'."""
    evidence: dict[str, float | int | None]
    """The figures it was judged on: the canary's and the stable version's."""


class LabelState(WireModel):
    prompt: str
    name: str
    target: LabelTarget
    protected: bool
    updated_at: datetime
    updated_by: str
    halted: CanaryHalt | None = None
    """Set when the registry rolled the last canary back; cleared by the next move."""


class Resolved(WireModel):
    """What ``resolve`` served: the version and whether it came from the canary split."""

    prompt: str
    label: str
    served: Served
    version: PromptVersion
    state: LabelState


class PromptInfo(WireModel):
    name: str
    versions: int
    latest_number: int | None
    labels: tuple[LabelState, ...]


class Change(WireModel):
    """One entry of the change feed. Exactly one of the payloads is set, per ``kind``."""

    seq: int
    kind: ChangeKind
    prompt: str
    at: datetime
    version: PromptVersion | None = None
    review: Review | None = None
    label: LabelState | None = None
    suite: Suite | None = None


class ChangePage(WireModel):
    changes: tuple[Change, ...]
    next_cursor: int
    """Pass as ``since`` to get what follows; equal to ``since`` when nothing changed."""
    has_more: bool


class AuditEntry(AuditEvent):
    """An entry of the registry's audit log on the wire: the vault's own audit event
    type (same fields, same chain hash, :meth:`AuditEvent.compute_hash`), named for the
    API's schema."""


class AuditPage(WireModel):
    entries: tuple[AuditEntry, ...]
    next_cursor: int
    has_more: bool


class AuditReport(WireModel):
    ok: bool
    entries: int
    problems: tuple[str, ...]


class WhoAmI(WireModel):
    name: str
    role: UserRole


class ErrorBody(WireModel):
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


class Health(WireModel):
    status: Literal["ok"]


def check_label_name(name: str) -> str:
    """Validate a label name taken from a URL path (raises ValueError with the rule)."""
    return validate_label_name(name)
