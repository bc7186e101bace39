"""Planning a run: versions x models x cases x repeats rendered into calls, and the
pre-flight estimate of what they may cost (tokens, prices, grading calls).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from workbench.core.errors import (
    RenderError,
    TemplateError,
    UsageError,
    WorkbenchError,
)
from workbench.core.models import PromptVersion, canonical_json
from workbench.core.rubric import (
    DEFAULT_GRADING_PROMPT,
    GRADER_MAX_TOKENS,
)
from workbench.core.runs import (
    CellKey,
    CellResult,
    ModelRef,
    RunSpec,
    TestCase,
)
from workbench.core.templating import estimate_tokens, render_messages
from workbench.engine.masking import sensitive_values
from workbench.engine.pricing import Pricer
from workbench.providers.base import (
    ChatMessage,
    ChatRequest,
)
from workbench.providers.profiles import ProviderProfile
from workbench.vault.run_log import RunLog

log = logging.getLogger(__name__)

DEFAULT_OUTPUT_GUESS = 256
"""Output tokens assumed per call for the pre-flight estimate when max_tokens is unset."""


def call_tokens_estimate(contents: Iterable[str], max_tokens: int | None) -> tuple[int, int]:
    """(input, output) tokens one call is estimated at before it runs: about four
    characters a token plus four a message in; out, ``max_tokens`` or the guess. The
    pre-flight estimate and the editor's per-call estimate both use this."""
    return sum(estimate_tokens(c) + 4 for c in contents), max_tokens or DEFAULT_OUTPUT_GUESS


class RunObserver(Protocol):
    """Sees a run as it happens. An observer may also have ``on_grading_call(call)``
    (optional, so observers that only show the matrix need not): each finished rubric
    grading call, stored masked, before the cell it graded reaches ``on_cell``."""

    def on_delta(self, key: CellKey, text: str) -> None: ...

    def on_cell(self, cell: CellResult, done: int, total: int, spent_usd: float) -> None: ...


class NullObserver:
    def on_delta(self, key: CellKey, text: str) -> None:
        pass

    def on_cell(self, cell: CellResult, done: int, total: int, spent_usd: float) -> None:
        pass


KeyResolver = Callable[[ProviderProfile], str | None]


@dataclass(frozen=True)
class Estimate:
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    """None if any model's price is unknown."""
    unknown_price_models: tuple[str, ...] = ()
    render_errors: tuple[str, ...] = ()
    """The distinct reasons some planned calls cannot render."""
    unrenderable_calls: int = 0
    """Planned calls whose messages do not render (they fail without calling a model)."""

    concurrency_caps: tuple[str, ...] = ()
    """Profiles whose own limit lowers the run's ("16 requested, 8 allowed by profile x")."""
    warnings: tuple[str, ...] = ()
    """Budgets this run brings near their cap (set by the pre-flight)."""
    grading_calls: int = 0
    """Calls to rubric graders, in the tokens and cost too (not in ``calls``)."""
    cost_by_profile: Mapping[str, float | None] = field(default_factory=dict)
    """The cost on each profile the run calls (its models' and its graders'), for the
    per-profile budgets; None where a call on it is unpriced."""


@dataclass
class CellPlan:
    """One cell to run: its key, the rendered request, or why it cannot run."""

    key: CellKey
    version: PromptVersion
    request: ChatRequest | None
    rendered: tuple[dict[str, str], ...]
    render_error: WorkbenchError | None = None
    request_hash: str = ""
    sensitive: tuple[tuple[str, str], ...] = ()
    """(name, value) of the case's values of sensitive variables: masked in what is
    stored (``mask_sensitive``), sent in clear."""
    grader: bool = False
    """A rubric's grading call: no fallbacks (the version's are the graded call's)."""


class BindingResolver(Protocol):
    """Values of variables bound to data sources (``workbench.app.source_resolve``), per
    (version id, case index): a mapping of values, or the error that case gets. It
    raises (refusing the run) for a binding outside a source's allow-list. For an
    ``estimate`` it reads nothing: stand-ins of the variables' types (an estimate is
    asked for on every change of the window's choices, on its thread)."""

    def resolve(
        self, spec: RunSpec, versions: Sequence[PromptVersion], estimate: bool
    ) -> Mapping[tuple[uuid.UUID, int], Mapping[str, Any] | WorkbenchError]: ...


def request_hash(profile: ProviderProfile, request: ChatRequest) -> str:
    """Identity of a call: where it goes and what it asks (never the key)."""
    body = {
        "family": profile.family,
        "base_url": profile.base_url,
        "request": request.model_dump(mode="json", exclude={"stream"}),
    }
    return hashlib.sha256(canonical_json(body)).hexdigest()


def rubric_graders(spec: RunSpec) -> list[ModelRef]:
    """The grader models the run's ``rubric`` assertions name, each once."""
    refs = [
        ModelRef.parse(a.model)
        for case in spec.cases
        for a in case.assertions
        if a.type == "rubric" and a.model
    ]
    return list(dict.fromkeys(refs))


class RunVault(Protocol):
    """What the engine needs of a vault: the versions a spec names, and the run log it
    records into. :class:`workbench.vault.Vault` is one; so is the plain-SQL
    :class:`workbench.vault.direct.DirectVault` the CLI runs with (no SQLAlchemy)."""

    def version_by_id(self, version_id: uuid.UUID) -> PromptVersion: ...

    def run_log(self) -> RunLog: ...


class Planner:
    """The planning half of :class:`workbench.engine.runner.Engine`: each cell's
    rendered request (or why it cannot run), the pre-flight estimate and the effective
    concurrency. Needs no event loop and makes no call."""

    vault: RunVault
    profiles: dict[str, ProviderProfile]
    bindings: BindingResolver | None
    pricer: Pricer

    def _profile(self, ref: ModelRef) -> ProviderProfile:
        profile = self.profiles.get(ref.profile)
        if profile is None:
            known = ", ".join(sorted(self.profiles))
            raise UsageError(
                f"no provider profile named {ref.profile!r} (known: {known})",
                hint="Add one with: workbench provider add NAME --family openai --key-name KEY",
            )
        return profile

    def _versions(self, spec: RunSpec) -> list[PromptVersion]:
        return [self.vault.version_by_id(vid) for vid in spec.version_ids]

    _estimated: tuple[tuple[Any, ...], list[CellPlan]] | None = None
    """The plans the last estimate made, when a run of the same matrix would make the
    same ones (no variable bound to a data source): the run that follows its estimate
    (its spec now carrying the budgets the pre-flight applied) takes them instead of
    rendering every cell again (~20 ms per 300 cells)."""

    @staticmethod
    def _matrix(spec: RunSpec) -> tuple[Any, ...]:
        """What a spec's plans are made of (not its limits, budgets or cache use)."""
        return (spec.prompt, spec.version_ids, spec.models, spec.cases, spec.repeats)

    def plan(self, spec: RunSpec, *, estimate: bool = False) -> list[CellPlan]:
        kept, self._estimated = self._estimated, None
        if not estimate and kept is not None and kept[0] == self._matrix(spec):
            return kept[1]
        for ref in spec.models:
            self._profile(ref)
        for ref in rubric_graders(spec):  # an unknown grader profile is the run's error
            self._profile(ref)
        plans: list[CellPlan] = []
        versions = self._versions(spec)
        bound = (
            self.bindings.resolve(spec, versions, estimate=estimate)
            if self.bindings is not None
            else {}
        )
        for version in versions:
            params = version.content.model
            for case_index, case in enumerate(spec.cases):
                values: Mapping[str, Any] = case.values
                error: WorkbenchError | None = None
                got = bound.get((version.id, case_index))
                if isinstance(got, WorkbenchError):
                    error = got
                elif got:  # a bound variable's value comes from its source, not the case
                    values = {**case.values, **got}
                messages: tuple[ChatMessage, ...] = ()
                if error is None:
                    try:
                        messages = tuple(render_messages(version.content, values))
                    except (RenderError, TemplateError) as exc:
                        error = exc
                rendered = tuple(m.model_dump() for m in messages)
                sensitive = tuple(sensitive_values(version, values))
                for ref in spec.models:
                    request = None
                    if error is None:
                        request = ChatRequest(
                            model=ref.model,
                            messages=messages,
                            temperature=params.temperature,
                            max_tokens=params.max_tokens,
                            top_p=params.top_p,
                            stop=params.stop,
                            response_format=params.response_format,
                        )
                    digest = request_hash(self._profile(ref), request) if request else ""
                    plans.extend(
                        CellPlan(
                            key=CellKey(
                                version_id=version.id,
                                model=ref,
                                case_index=case_index,
                                repeat=repeat,
                            ),
                            version=version,
                            request=request,
                            rendered=rendered,
                            render_error=error,
                            request_hash=digest,
                            sensitive=sensitive,
                        )
                        for repeat in range(spec.repeats)
                    )
        if estimate and not bound:
            # Nothing read from a source: a run of this matrix plans exactly these.
            self._estimated = (self._matrix(spec), plans)
        return plans

    def estimate(self, spec: RunSpec) -> Estimate:
        """Pre-flight: tokens and cost the run would take if nothing is cached."""
        tin = tout = 0
        cost: float | None = 0.0
        unknown: set[str] = set()
        errors: set[str] = set()
        unrenderable = grading = 0
        by_profile: dict[str, float | None] = {}

        def spend(profile: str, price: float | None) -> None:
            known = by_profile.get(profile, 0.0)
            by_profile[profile] = None if known is None or price is None else known + price

        for plan in self.plan(spec, estimate=True):
            if plan.request is None:
                errors.add(str(plan.render_error))
                unrenderable += 1
                continue
            i, o = call_tokens_estimate(
                (m.content for m in plan.request.messages), plan.request.max_tokens
            )
            tin, tout = tin + i, tout + o
            price, _ = self.pricer.price(self._profile(plan.key.model), plan.key.model.model, i, o)
            spend(plan.key.model.profile, price)
            if price is None:
                unknown.add(str(plan.key.model))
            elif cost is not None:
                cost += price
            for gprofile, gi, go, gprice in self._grading_estimates(
                spec.cases[plan.key.case_index], i, o
            ):
                grading += 1
                tin, tout = tin + gi, tout + go
                spend(gprofile, gprice)
                if cost is not None:
                    cost += gprice
        return Estimate(
            calls=spec.total_cells,
            input_tokens=tin,
            output_tokens=tout,
            cost_usd=None if unknown else cost,
            unknown_price_models=tuple(sorted(unknown)),
            render_errors=tuple(sorted(errors)),
            unrenderable_calls=unrenderable,
            concurrency_caps=self.concurrency_caps(spec),
            grading_calls=grading,
            cost_by_profile=by_profile,
        )

    def _grading_estimates(
        self, case: TestCase, tokens_in: int, tokens_out: int
    ) -> list[tuple[str, int, int, float]]:
        """(profile, input, output tokens, cost) of each grading call one answer of ``case`` may
        take: the graded call's request and answer, the rubric and the grading prompt in;
        at most ``GRADER_MAX_TOKENS`` out. Unpriced graders are refused, never called."""
        out = []
        for a in case.assertions:
            if a.type != "rubric" or not a.model:
                continue
            ref = ModelRef.parse(a.model)
            gin = (
                tokens_in + tokens_out + estimate_tokens(str(a.value))
                + estimate_tokens(a.prompt or DEFAULT_GRADING_PROMPT) + 80
            )  # fmt: skip
            price, _ = self.pricer.price(self._profile(ref), ref.model, gin, GRADER_MAX_TOKENS)
            if price is not None:
                out.append((ref.profile, gin, GRADER_MAX_TOKENS, price))
        return out

    def effective_concurrency(self, spec: RunSpec) -> dict[str, int]:
        """Calls in flight at most, per profile of the run: the run's limit, or the
        profile's own when it sets one that is lower."""
        out: dict[str, int] = {}
        for ref in spec.models:
            limit = self._profile(ref).concurrency
            out[ref.profile] = spec.concurrency if limit is None else min(limit, spec.concurrency)
        return out

    def concurrency_caps(self, spec: RunSpec) -> tuple[str, ...]:
        """One line per profile whose own limit lowers the run's, e.g.
        "16 requested, 8 allowed by profile mock"; empty when nothing is capped."""
        return tuple(
            f"{spec.concurrency} requested, {n} allowed by profile {name}"
            for name, n in self.effective_concurrency(spec).items()
            if n < spec.concurrency
        )
