"""Making a run's calls: fallbacks, limits, budgets, the breaker, grading, streaming."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from workbench.core.assertions import Assertion, CheckResult, check
from workbench.core.errors import (
    InputError,
    SourceUnavailableError,
    WorkbenchError,
)
from workbench.core.models import utcnow
from workbench.core.rubric import (
    GRADER_MAX_TOKENS,
    GradeUnreadable,
    grading_messages,
    parse_grade,
)
from workbench.core.runs import (
    CellKey,
    CellResult,
    ModelRef,
    Retry,
    RunSpec,
    TestCase,
)
from workbench.engine.breaker import CircuitBreaker
from workbench.engine.planning import (
    CellPlan,
    NullObserver,
    Planner,
    RunObserver,
    call_tokens_estimate,
    request_hash,
)
from workbench.engine.progress import RunProgress, call_limit
from workbench.providers.base import (
    ChatMessage,
    ChatRequest,
    Finish,
    ProviderClient,
    RetryNotice,
    TextDelta,
    Usage,
    estimated_usage,
)
from workbench.providers.errors import (
    AnswerTooLarge,
    DeadlineExceeded,
    ProviderError,
    ServerError,
)
from workbench.providers.http import (
    FIRST_BYTE_AT,
    REQUEST_SENT_AT,
)
from workbench.providers.profiles import ProviderProfile
from workbench.secrets.redaction import redact_output

if TYPE_CHECKING:
    from workbench.engine.session import RunSession

log = logging.getLogger(__name__)


class Caller(Planner):
    """The calling half of :class:`workbench.engine.runner.Engine`: one cell through
    its fallback chain under the run's limits, budgets and breaker; its rubric grading
    calls; one streamed call with its TTFT, tokens and cost."""

    breaker_threshold: int

    def _call_estimate(self, profile: ProviderProfile, model: str, request: ChatRequest) -> float:
        """What one call may cost before it runs (the pre-flight rule); 0 when unpriced
        (budgets count priced calls only)."""
        tokens_in, tokens_out = call_tokens_estimate(
            (m.content for m in request.messages), request.max_tokens
        )
        cost, _source = self.pricer.price(profile, model, tokens_in, tokens_out)
        return cost or 0.0

    async def _cell(
        self,
        plan: CellPlan,
        spec: RunSpec,
        cached: Mapping[str, CellResult],
        client_for: Callable[[ProviderProfile], ProviderClient],
        global_limit: asyncio.Semaphore,
        profile_limits: Mapping[str, asyncio.Semaphore],
        observer: RunObserver,
        progress: RunProgress,
    ) -> CellResult:
        key = plan.key
        base = {"key": key, "rendered": plan.rendered, "request_hash": plan.request_hash}
        if plan.request is None:
            err = plan.render_error
            kind = "source_unavailable" if isinstance(err, SourceUnavailableError) else "render"
            return CellResult(**base, error=str(err), error_kind=kind)
        hit = cached.get(plan.request_hash)
        if hit is not None:
            return hit.model_copy(
                update={
                    "key": key,
                    "cached": True,
                    "original_latency_ms": hit.latency_ms,
                    "original_ttft_ms": hit.ttft_ms,
                    "latency_ms": 0.0,
                    "ttft_ms": 0.0,
                    "finished_at": utcnow(),
                }
            )
        try:
            fallbacks = () if plan.grader else plan.version.content.model.fallbacks
            chain = [key.model] + [
                ModelRef.parse(f, default_profile=key.model.profile) for f in fallbacks
            ]
        except ValueError as exc:  # a version stored before commits checked fallbacks
            return CellResult(
                **base,
                error=f"this version's fallback {exc}; commit a version that fixes it",
                error_kind="config",
            )
        reasons: list[str] = []
        history: list[Retry] = []
        last: ProviderError | None = None
        for index, ref in enumerate(chain):
            profile = self._profile(ref)
            request = plan.request.model_copy(update={"model": ref.model})
            breaker = progress.breaker(profile.name, self.breaker_threshold)
            retries: list[Retry] = []
            try:
                if str(ref) in spec.fail_models:
                    raise ServerError(
                        "failed on purpose (--fail-model) to exercise the fallback chain",
                        provider=profile.name,
                        model=ref.model,
                    )
                breaker.check(profile.name, ref.model)
                own_limit = profile_limits.get(profile.name) or contextlib.nullcontext()
                async with global_limit, own_limit:
                    # Checked once a slot is free: calls queued behind the cap never start.
                    if spec.max_cost_usd is not None and progress.spent >= spec.max_cost_usd:
                        return CellResult(
                            **base,
                            error=f"run budget of ${spec.max_cost_usd:.4f} reached; call not made",
                            error_kind="budget",
                        )
                    breaker.check(profile.name, ref.model)
                    limit, why = call_limit(spec, progress)
                    if limit is not None and limit <= 0:
                        return CellResult(
                            **base, error=f"{why} reached; call not made", error_kind="deadline"
                        )
                    estimate = self._call_estimate(profile, ref.model, request)
                    crossed = progress.reserve(spec.spend_caps, profile.name, estimate)
                    if crossed is not None:
                        return CellResult(
                            **base, error=f"{crossed} reached; call not made", error_kind="budget"
                        )
                    try:
                        async with asyncio.timeout(limit) as bound:
                            cell = await self._call(
                                client_for(profile),
                                profile,
                                request,
                                key,
                                observer,
                                breaker,
                                retries,
                                spec.max_answer_chars,
                            )
                    except TimeoutError:
                        if not bound.expired():
                            raise
                        raise DeadlineExceeded(
                            f"no complete answer within the {why}",
                            provider=profile.name,
                            model=ref.model,
                        ) from None
                    finally:
                        progress.release(profile.name, estimate)
                breaker.success()
            except ProviderError as exc:
                breaker.failure(exc)
                history.extend(retries)
                last = exc
                reasons.append(f"{ref}: {exc.kind}")
                continue
            except WorkbenchError as exc:  # e.g. a key that cannot be found
                return CellResult(**base, error=exc.describe(), error_kind=type(exc).__name__)
            return cell.model_copy(
                update={
                    **base,
                    "answered_by": ref if index > 0 else None,
                    "fallback_reason": "; ".join(reasons) if index > 0 else None,
                    "echo": profile.family == "echo",
                }
            )
        assert last is not None
        return CellResult(
            **base,
            error=last.describe(),
            error_kind=last.kind,
            fallback_reason="; ".join(reasons) if len(chain) > 1 else None,
            retries=tuple(history),
        )

    async def _grade(
        self, session: RunSession, plan: CellPlan, cell: CellResult, case: TestCase
    ) -> tuple[CellResult, list[CellResult]]:
        """Grade the cell's ``rubric`` checks, each by a call to its grader model, in
        ``session``'s run; return the cell with their results and the grading calls made
        (for the run log).

        A grading call is made like any cell's: through the provider layer with its
        retries and the breaker, under the run's concurrency, deadlines and budgets
        (its estimate reserved before it starts), never cached, without fallbacks,
        without streaming to the observer (its tokens are not the cell's answer)."""
        rubrics = [i for i, a in enumerate(case.assertions) if a.type == "rubric"]
        if not rubrics or not cell.ok:
            return cell, []

        results = await asyncio.gather(
            *(self._grade_one(session, case.assertions[i], plan, cell, case) for i in rubrics)
        )
        checks = list(cell.checks)
        calls: list[CellResult] = []
        for index, (result, call) in zip(rubrics, results, strict=True):
            checks[index] = result
            if call is not None:
                calls.append(call)
        return cell.model_copy(update={"checks": tuple(checks)}), calls

    async def _grade_one(
        self,
        session: RunSession,
        assertion: Assertion,
        plan: CellPlan,
        cell: CellResult,
        case: TestCase,
    ) -> tuple[CheckResult, CellResult | None]:
        assert assertion.model is not None  # the assertion's validation requires it
        ref = ModelRef.parse(assertion.model)
        profile = self._profile(ref)
        grader = str(ref)
        scale, need = assertion.rubric_scale, assertion.rubric_threshold

        def failed(detail: str, cost: float | None = 0.0, *, unjudged: bool) -> CheckResult:
            return CheckResult(
                assertion=assertion, passed=False, detail=detail, grader=grader,
                grader_cost_usd=cost, grader_error=unjudged,
            )  # fmt: skip

        if self.pricer.price(profile, ref.model, 1, 1)[0] is None:
            return failed(
                f"the grader {grader} has no known price, so what grading costs would be "
                f"unknown; give it one (workbench provider add {profile.name} ... --price "
                f"{ref.model}=IN,OUT) or grade with a priced model; not called",
                unjudged=True,
            ), None
        try:
            messages = grading_messages(
                assertion, cell.output, values=case.values, sent=plan.rendered
            )
        except InputError as exc:
            return failed(exc.message, unjudged=False), None
        request = ChatRequest(
            model=ref.model,
            messages=tuple(ChatMessage(role=m["role"], content=m["content"]) for m in messages),
            temperature=0.0,
            max_tokens=GRADER_MAX_TOKENS,
        )
        grading = CellPlan(
            key=plan.key.model_copy(update={"model": ref}),
            version=plan.version,
            request=request,
            rendered=tuple(messages),
            request_hash=request_hash(profile, request),
            sensitive=plan.sensitive,
            grader=True,
        )
        call = await self._cell(
            grading,
            session.spec,
            {},
            session.client_for,
            session.global_limit,
            session.profile_limits,
            NullObserver(),
            session.progress,
        )
        call = call.model_copy(update={"kind": "grader", "echo": profile.family == "echo"})
        if not call.ok:
            return failed(f"the grader {grader} did not answer: {call.error}", unjudged=True), call
        try:
            grade = parse_grade(call.output, scale)
        except GradeUnreadable as exc:
            return failed(str(exc), call.cost_usd, unjudged=True), call
        ok = grade.score >= need
        because = f": {grade.reason}" if grade.reason else ""
        return CheckResult(
            assertion=assertion,
            passed=ok,
            detail="" if ok else f"scored {grade.score:g}/{scale:g}, needs {need:g}{because}",
            score=grade.score,
            reason=grade.reason,
            grader=grader,
            grader_cost_usd=call.cost_usd,
        ), call

    async def _call(
        self,
        client: ProviderClient,
        profile: ProviderProfile,
        request: ChatRequest,
        key: CellKey,
        observer: RunObserver,
        breaker: CircuitBreaker,
        retries: list[Retry],
        max_chars: int | None = None,
    ) -> CellResult:
        """One call; ``retries`` is filled as the policy retries (kept when it fails).
        An answer past ``max_chars`` ends the call (the rest is never held in memory)."""
        parts: list[str] = []
        size = 0
        usage: Usage | None = None
        finish: Finish | None = None
        ttft: float | None = None
        sent: list[float] = []
        got: list[float] = []
        token = REQUEST_SENT_AT.set(sent)
        got_token = FIRST_BYTE_AT.set(got)
        start = time.perf_counter()
        events = client.stream_chat(request)
        me = asyncio.current_task()
        if me is not None:
            breaker.waiting.add(me)
        try:
            async for event in events:
                if isinstance(event, TextDelta):
                    if ttft is None:
                        # From the moment the (last) request was on the wire to when the
                        # bytes holding this token came off the socket: a retried call's
                        # first attempts, our own queueing, and work on other answers
                        # that arrived at the same time are not the model's.
                        arrived = got[-1] if got else time.perf_counter()
                        ttft = arrived - (sent[-1] if sent else start)
                        breaker.waiting.discard(me)
                    if me is not None:
                        breaker.streaming[me] = time.perf_counter()
                    size += len(event.text)
                    if max_chars is not None and size > max_chars:
                        raise AnswerTooLarge(
                            f"the answer passed {max_chars:,} characters; the call was ended",
                            provider=profile.name,
                            model=request.model,
                        )
                    parts.append(event.text)
                    observer.on_delta(key, event.text)
                elif isinstance(event, Usage):
                    usage = event
                elif isinstance(event, Finish):
                    finish = event
                elif isinstance(event, RetryNotice):
                    retries.append(
                        Retry(attempt=event.attempt, reason=event.reason, wait_s=event.wait)
                    )
                    # The failure being retried counts; once the breaker is open the
                    # wait is not sat out: the call ends now as unreachable.
                    breaker.failure(event.error)
                    breaker.check(profile.name, request.model)
        except asyncio.CancelledError:
            if breaker.was_cut(me):
                raise breaker.unreachable(profile.name, request.model) from None
            raise
        finally:
            breaker.waiting.discard(me)
            breaker.streaming.pop(me, None)  # type: ignore[arg-type]
            # Closed here, not by the garbage collector: a call the breaker ends mid-retry
            # must not keep its connection or its backoff sleep.
            closer = getattr(events, "aclose", None)
            if closer is not None:
                await closer()
            FIRST_BYTE_AT.reset(got_token)
            REQUEST_SENT_AT.reset(token)
        latency = time.perf_counter() - start
        # A provider that echoes the key must not get it into the vault, cache or exports.
        output = redact_output("".join(parts))
        if usage is None:
            usage = estimated_usage(request, output)
        cost, source = self.pricer.price(
            profile, request.model, usage.input_tokens, usage.output_tokens
        )
        return CellResult(
            key=key,
            output=output,
            finish_reason=finish.reason if finish else None,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            tokens_estimated=usage.estimated,
            cost_usd=cost,
            price_source=source,
            ttft_ms=None if ttft is None else ttft * 1000,
            latency_ms=latency * 1000,
            retries=tuple(retries),
        )


def with_checks(cell: CellResult, case: TestCase) -> CellResult:
    """The cell with its case's assertions checked (none for a call that failed)."""
    if not case.assertions or not cell.ok:
        return cell.model_copy(update={"checks": ()}) if cell.checks else cell
    checks = tuple(
        check(
            a,
            cell.output,
            values=case.values,
            finish_reason=cell.finish_reason,
            latency_ms=cell.original_latency_ms if cell.cached else cell.latency_ms,
            ttft_ms=cell.original_ttft_ms if cell.cached else cell.ttft_ms,
            cost_usd=cell.cost_usd,
            output_tokens=cell.output_tokens,
        )
        for a in case.assertions
    )
    return cell.model_copy(update={"checks": checks})
