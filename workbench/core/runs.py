"""Runs: a matrix of versions x models x test cases x repeats, and what each cell recorded.

Pure data and arithmetic (summaries, percentiles); the engine fills it in, the vault
stores it, the UI and CLI show it.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.core.assertions import Assertion, CheckResult
from workbench.core.limits import DEFAULT_CALL_DEADLINE_S, DEFAULT_MAX_ANSWER_CHARS
from workbench.core.models import split_model_ref, utcnow

RunStatus = Literal["running", "finished", "cancelled", "failed", "interrupted"]
"""``interrupted``: its process ended (killed, crashed) before it could close the run."""

CallKind = Literal["call", "grader"]
"""``call``: a cell of the matrix. ``grader``: a model call that graded a cell's answer
for a ``rubric`` assertion; it is in the run log and the run's spending, never in the
matrix (its cell's readouts, summaries and pass rates are the graded call's own)."""


class ModelRef(BaseModel):
    """One column of the matrix: a provider profile and a model name on it."""

    model_config = ConfigDict(frozen=True)

    profile: str
    model: str

    @classmethod
    def parse(cls, text: str, default_profile: str | None = None) -> ModelRef:
        profile, model = split_model_ref(text, default_profile)
        return cls(profile=profile, model=model)

    def __str__(self) -> str:
        return f"{self.profile}:{self.model}"


class TestCase(BaseModel):
    """One row of variable values."""

    model_config = ConfigDict(frozen=True)
    __test__ = False  # not a pytest class

    name: str = ""
    values: dict[str, Any] = Field(default_factory=dict)
    assertions: tuple[Assertion, ...] = ()
    """What the answer must satisfy for this case to pass (see core/assertions.py)."""


class SpendCap(BaseModel):
    """What may still be spent under one budget while a run runs (all profiles, or one):
    a call starts only if what is spent, plus what calls in flight may cost, plus its
    own estimate, stays within ``remaining_usd``."""

    model_config = ConfigDict(frozen=True)

    label: str
    """How the budget is named in a stopped cell, e.g. "the daily budget of openai ($5.00)"."""
    remaining_usd: float = Field(ge=0)
    profile: str | None = None


def cases_or_defaults(cases: Sequence[TestCase]) -> tuple[TestCase, ...]:
    """The cases a run of a prompt uses when none are chosen: its own, else one case of
    the declared defaults (named "defaults"). One rule for the CLI and the window."""
    return tuple(cases) or (TestCase(name="defaults"),)


class RunSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    prompt: str
    version_ids: tuple[uuid.UUID, ...] = Field(min_length=1)
    models: tuple[ModelRef, ...] = Field(min_length=1)
    cases: tuple[TestCase, ...] = (TestCase(),)
    repeats: int = Field(default=1, ge=1, le=100)
    concurrency: int = Field(default=8, ge=1, le=256)
    use_cache: bool = False
    """Replay stored answers for identical requests instead of calling the model."""
    fail_models: tuple[str, ...] = ()
    """'profile:model' entries that fail on purpose, to exercise fallback chains."""
    max_cost_usd: float | None = None
    spend_caps: tuple[SpendCap, ...] = ()
    """Day and month budgets (all profiles, and per profile) as left when the run was
    planned; checked before every call with the calls in flight counted."""
    """Hard cap: the run stops starting calls once spent cost reaches it."""
    call_deadline_s: float | None = Field(default=DEFAULT_CALL_DEADLINE_S, gt=0)
    """Total bound on one call, retries and a trickling stream included (None: none)."""
    run_deadline_s: float | None = Field(default=None, gt=0)
    """Total bound on the run: calls still going then fail, calls not started are not made."""
    max_answer_chars: int = Field(default=DEFAULT_MAX_ANSWER_CHARS, ge=1)
    """An answer longer than this fails its cell instead of filling memory."""

    @property
    def total_cells(self) -> int:
        return len(self.version_ids) * len(self.models) * len(self.cases) * self.repeats


class CellKey(BaseModel):
    model_config = ConfigDict(frozen=True)

    version_id: uuid.UUID
    model: ModelRef
    case_index: int
    repeat: int = 0


class Retry(BaseModel):
    model_config = ConfigDict(frozen=True)

    attempt: int
    reason: str
    wait_s: float


class CellResult(BaseModel):
    """Everything one call recorded. Times are on a monotonic clock, in milliseconds."""

    model_config = ConfigDict(frozen=True)

    key: CellKey
    rendered: tuple[dict[str, str], ...] = ()
    output: str = ""
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    tokens_estimated: bool = False
    cost_usd: float | None = None
    """None means unknown (no price for the model), never a silent 0."""
    price_source: str = ""
    ttft_ms: float | None = None
    latency_ms: float | None = None
    retries: tuple[Retry, ...] = ()
    error: str | None = None
    error_kind: str | None = None
    request_hash: str = ""
    cached: bool = False
    original_latency_ms: float | None = None
    original_ttft_ms: float | None = None
    answered_by: ModelRef | None = None
    """The model that answered, when a fallback took over."""
    fallback_reason: str | None = None
    echo: bool = False
    """The zero-set-up echo provider made this answer: its numbers are not a model's."""
    checks: tuple[CheckResult, ...] = ()
    """The case's assertions checked against this answer."""
    kind: CallKind = "call"
    """A grader call has the key of the cell it graded, with the grader's model."""
    finished_at: datetime = Field(default_factory=utcnow)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def passed(self) -> bool:
        """The call answered and every assertion of its case holds."""
        return self.ok and all(c.passed for c in self.checks)

    @property
    def unjudged(self) -> bool:
        """The call answered and failed only checks whose grader gave no grade (it
        failed, was refused or answered no readable grade): nothing judged the answer."""
        return self.ok and not self.passed and all(c.passed or c.grader_error for c in self.checks)

    @property
    def grading_cost_usd(self) -> float | None:
        """What grading this answer's rubrics cost (0 without any; None if unknown)."""
        costs = [c.grader_cost_usd for c in self.checks if c.grader is not None]
        if any(c is None for c in costs):
            return None
        return sum(c for c in costs if c is not None)


class Run(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    spec: RunSpec
    status: RunStatus = "running"
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    cells: tuple[CellResult, ...] = ()


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


class SummaryRow(BaseModel):
    """One version x model of a run, summed over cases and repeats."""

    model_config = ConfigDict(frozen=True)

    version_id: uuid.UUID
    model: ModelRef
    calls: int
    errors: int
    passed: int
    """Calls that answered with every assertion of their case holding."""
    failed: int
    """Calls that errored or broke an assertion."""
    checked: int
    """Calls whose case had assertions."""
    cached: int
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    input_tokens: int
    output_tokens: int
    tokens_estimated: bool
    cost_usd: float | None
    """Sum of known costs; None if any successful call's cost is unknown."""
    cost_per_1k_calls_usd: float | None
    echo: bool


def summarize(cells: Iterable[CellResult]) -> list[SummaryRow]:
    groups: dict[tuple[uuid.UUID, ModelRef], list[CellResult]] = {}
    for cell in cells:
        groups.setdefault((cell.key.version_id, cell.key.model), []).append(cell)
    rows = []
    for (vid, model), group in groups.items():
        ok = [c for c in group if c.ok]
        ttfts = [c.ttft_ms for c in ok if c.ttft_ms is not None]
        lats = [c.latency_ms for c in ok if c.latency_ms is not None]
        costs = [c.cost_usd for c in ok]
        known = None if any(c is None for c in costs) else sum(c for c in costs if c is not None)
        rows.append(
            SummaryRow(
                version_id=vid,
                model=model,
                calls=len(group),
                errors=len(group) - len(ok),
                passed=sum(1 for c in group if c.passed),
                failed=sum(1 for c in group if not c.passed),
                checked=sum(1 for c in group if c.checks),
                cached=sum(1 for c in group if c.cached),
                ttft_p50_ms=percentile(ttfts, 50),
                ttft_p95_ms=percentile(ttfts, 95),
                latency_p50_ms=percentile(lats, 50),
                latency_p95_ms=percentile(lats, 95),
                input_tokens=sum(c.input_tokens or 0 for c in ok),
                output_tokens=sum(c.output_tokens or 0 for c in ok),
                tokens_estimated=any(c.tokens_estimated for c in ok),
                cost_usd=known,
                cost_per_1k_calls_usd=(known / len(ok) * 1000)
                if known is not None and ok
                else None,
                echo=any(c.echo for c in group),
            )
        )
    return rows
