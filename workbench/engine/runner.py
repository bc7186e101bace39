"""The comparison engine: versions x models x test cases x repeats, streamed and recorded.

asyncio + one shared ``httpx.AsyncClient``; a global concurrency limit and one per
provider profile; every cell records output, tokens, cost, time to first token and
latency on a monotonic clock, retries, errors, the request hash and whether the
answer came from the response cache. Finished cells are written to the vault in
batches on one writer thread, so a crash mid-run keeps every finished cell and the
event loop never waits on the disk.

Observers see token deltas, then each finished cell, as they happen. Cancelling
(``cancel.set()`` or cancelling the task) ends every in-flight call at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from workbench.core.assertions import Assertion, CheckResult, check
from workbench.core.errors import (
    InputError,
    RenderError,
    SourceUnavailableError,
    TemplateError,
    UsageError,
    WorkbenchError,
)
from workbench.core.models import PromptVersion, canonical_json, utcnow
from workbench.core.rubric import (
    DEFAULT_GRADING_PROMPT,
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
    Run,
    RunSpec,
    RunStatus,
    SpendCap,
    TestCase,
)
from workbench.core.templating import estimate_tokens, render_messages
from workbench.engine.pricing import Pricer
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
    UNREACHABLE_CAUSES,
    AnswerTooLarge,
    ConnectionFailed,
    DeadlineExceeded,
    ProviderError,
    ProviderTimeout,
    ProviderUnreachable,
    ServerError,
)
from workbench.providers.http import (
    FIRST_BYTE_AT,
    REQUEST_SENT_AT,
    make_http_client,
    warm_http_client,
)
from workbench.providers.profiles import ProviderProfile, make_client
from workbench.secrets.redaction import redact_output, register_secret
from workbench.vault.repository import Vault
from workbench.vault.runs import RunStore

log = logging.getLogger(__name__)

ECHO_PROFILE = ProviderProfile(name="echo", family="echo")
BREAKER_THRESHOLD = 3
"""Consecutive connection failures or timeouts after which a profile is unreachable."""
STALLED_AT_OPEN = 2.0
"""Seconds without a token after which a streaming call is ended when its breaker opens."""
DEFAULT_OUTPUT_GUESS = 256


def call_tokens_estimate(contents: Iterable[str], max_tokens: int | None) -> tuple[int, int]:
    """(input, output) tokens one call is estimated at before it runs: about four
    characters a token plus four a message in; out, ``max_tokens`` or the guess. The
    pre-flight estimate and the editor's per-call estimate both use this."""
    return sum(estimate_tokens(c) + 4 for c in contents), max_tokens or DEFAULT_OUTPUT_GUESS


"""Output tokens assumed per call for the pre-flight estimate when max_tokens is unset."""


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
class _Plan:
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
    """Values of variables bound to data sources (``workbench.app.sources``), per
    (version id, case index): a mapping of values, or the error that case gets. It
    raises (refusing the run) for a binding outside a source's allow-list. For an
    ``estimate`` it reads nothing: stand-ins of the variables' types (an estimate is
    asked for on every change of the window's choices, on its thread)."""

    def resolve(
        self, spec: RunSpec, versions: Sequence[PromptVersion], estimate: bool
    ) -> Mapping[tuple[uuid.UUID, int], Mapping[str, Any] | WorkbenchError]: ...


SENSITIVE_MIN_CHARS = 3
"""Shorter values are not masked in stored text (a "1" would shred every number)."""


def sensitive_values(version: PromptVersion, values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, value as text) of each sensitive variable of ``version`` this case sets
    (or its default), longest first."""
    out = []
    for variable in version.content.variables:
        if variable.sensitivity != "sensitive":
            continue
        value = values.get(variable.name, variable.default)
        if value is not None and len(str(value)) >= SENSITIVE_MIN_CHARS:
            out.append((variable.name, str(value)))
    return sorted(out, key=lambda nv: -len(nv[1]))


def mask_sensitive(text: str, sensitive: Sequence[tuple[str, str]]) -> str:
    for name, value in sensitive:
        text = text.replace(value, f"[sensitive: {name}]")
    return text


def _masked_cell(cell: CellResult, sensitive: Sequence[tuple[str, str]]) -> CellResult:
    """The cell as stored: no sensitive value in its messages, answer or error."""
    if not sensitive:
        return cell
    return cell.model_copy(
        update={
            "rendered": tuple(
                {**m, "content": mask_sensitive(m.get("content", ""), sensitive)}
                for m in cell.rendered
            ),
            "output": mask_sensitive(cell.output, sensitive),
            "error": None if cell.error is None else mask_sensitive(cell.error, sensitive),
            "checks": tuple(
                c.model_copy(
                    update={
                        "detail": mask_sensitive(c.detail, sensitive),
                        "reason": mask_sensitive(c.reason, sensitive),
                    }
                )
                for c in cell.checks
            ),
        }
    )


def masked_spec(spec: RunSpec, versions: Sequence[PromptVersion]) -> RunSpec:
    """The spec as stored: the cases' values of variables any of the run's versions
    marks sensitive are ``[sensitive]``."""
    names = {
        v.name for version in versions for v in version.content.variables
        if v.sensitivity == "sensitive"
    }  # fmt: skip
    if not names:
        return spec
    cases = tuple(
        c.model_copy(
            update={"values": {k: "[sensitive]" if k in names else v for k, v in c.values.items()}}
        )
        for c in spec.cases
    )
    return spec.model_copy(update={"cases": cases})


@dataclass
class CircuitBreaker:
    """One profile's health during a run.

    Every failure to connect (refused, connect timeout, host not found) and every
    timeout (no first byte, a stalled stream) counts; any answer resets the count.
    Once ``threshold`` failures come in a row the breaker opens for the rest of the
    run: the profile's calls not yet made fail at once, and so do its calls in flight
    that have not had a first token yet (waiting for a silent server, or for their
    next retry) or have had none for ``STALLED_AT_OPEN`` seconds, all with "provider
    unreachable: <the last failure>". Calls still streaming an answer go on.
    """

    threshold: int = BREAKER_THRESHOLD
    failures: int = 0
    reason: str = ""
    opened: bool = False
    waiting: set[asyncio.Task[Any]] = field(default_factory=set)
    """Calls in flight without a first token yet."""
    streaming: dict[asyncio.Task[Any], float] = field(default_factory=dict)
    """Calls in flight that have a first token: when their last token came."""
    cut: set[asyncio.Task[Any]] = field(default_factory=set)
    """Calls this breaker cancelled (to tell them from a cancelled run)."""

    @staticmethod
    def counts(error: BaseException | None) -> bool:
        if isinstance(error, ProviderUnreachable):
            return False
        if isinstance(error, ConnectionFailed):
            # Nobody there. Not a dropped idle connection (a healthy server does that),
            # nor a malformed URL (the profile's fault).
            return error.cause in UNREACHABLE_CAUSES
        return isinstance(error, ProviderTimeout)

    def failure(self, error: BaseException | None) -> None:
        if self.opened or not self.counts(error):
            return
        assert isinstance(error, ProviderError)
        self.failures += 1
        self.reason = error.detail
        if self.failures >= self.threshold:
            self.opened = True
            log.warning("provider %s unreachable: %s", error.provider, self.reason)
            me, now = asyncio.current_task(), time.perf_counter()
            idle = [t for t, at in self.streaming.items() if now - at >= STALLED_AT_OPEN]
            for task in [*self.waiting, *idle]:
                if task is not me and not task.done():
                    self.cut.add(task)
                    task.cancel()

    def success(self) -> None:
        if not self.opened:
            self.failures = 0

    def check(self, profile: str, model: str) -> None:
        """Raise :class:`ProviderUnreachable` if the breaker is open."""
        if self.opened:
            raise self.unreachable(profile, model)

    def unreachable(self, profile: str, model: str) -> ProviderUnreachable:
        return ProviderUnreachable(
            f"provider unreachable: {self.reason} (after {self.threshold} failures in a row)",
            provider=profile,
            model=model,
        )

    def was_cut(self, task: asyncio.Task[Any] | None) -> bool:
        """True (once) if this breaker cancelled ``task`` and nothing else did too."""
        if task is None or task not in self.cut:
            return False
        self.cut.discard(task)
        return task.uncancel() == 0


@dataclass
class _Progress:
    done: int = 0
    spent: float = 0.0
    spent_by: dict[str, float] = field(default_factory=dict)
    """Spent per profile (the profile that answered)."""
    reserved: dict[str, float] = field(default_factory=dict)
    """What the calls in flight may cost, per profile (their estimates)."""
    pending: list[CellResult] = field(default_factory=list)
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    deadline: float | None = None
    """``time.monotonic()`` past which the run makes no call and ends those going."""

    def used(self, profile: str | None) -> float:
        if profile is None:
            return self.spent + sum(self.reserved.values())
        return self.spent_by.get(profile, 0.0) + self.reserved.get(profile, 0.0)

    def reserve(self, caps: Sequence[SpendCap], profile: str, estimate: float) -> str | None:
        """Hold ``estimate`` for a call about to start on ``profile``; or, when a budget
        would be crossed, its label (and nothing is held)."""
        for cap in caps:
            if cap.profile is not None and cap.profile != profile:
                continue
            used = self.used(cap.profile)
            if used >= cap.remaining_usd or used + estimate > cap.remaining_usd:
                return cap.label
        self.reserved[profile] = self.reserved.get(profile, 0.0) + estimate
        return None

    def release(self, profile: str, estimate: float) -> None:
        self.reserved[profile] = self.reserved.get(profile, 0.0) - estimate

    def breaker(self, profile: str, threshold: int) -> CircuitBreaker:
        if profile not in self.breakers:
            self.breakers[profile] = CircuitBreaker(threshold=threshold)
        return self.breakers[profile]


class RunIncomplete(WorkbenchError):
    """The vault holds fewer (or more) cells of a run than the engine finished."""

    default_hint = "The vault could not store every cell; check the disk and run again."


def request_hash(profile: ProviderProfile, request: ChatRequest) -> str:
    """Identity of a call: where it goes and what it asks (never the key)."""
    body = {
        "family": profile.family,
        "base_url": profile.base_url,
        "request": request.model_dump(mode="json", exclude={"stream"}),
    }
    return hashlib.sha256(canonical_json(body)).hexdigest()


class Engine:
    def __init__(
        self,
        vault: Vault,
        profiles: Mapping[str, ProviderProfile],
        keys: KeyResolver | None = None,
        *,
        http_client_factory: Callable[[int, int], httpx.AsyncClient] | None = None,
        batch_size: int = 25,
        flush_interval: float = 0.25,
        breaker_threshold: int = BREAKER_THRESHOLD,
        pricer: Pricer | None = None,
        bindings: BindingResolver | None = None,
    ) -> None:
        self.vault = vault
        self.bindings = bindings
        """Resolves variables bound to data sources when a run is planned (None: a
        bound variable gets no value, and its cases say so)."""
        self.store = RunStore(vault)
        self.profiles = {"echo": ECHO_PROFILE, **profiles}
        self.keys = keys or (lambda _p: None)
        self._http_factory = http_client_factory or _default_http_client
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.breaker_threshold = breaker_threshold
        self.pricer = pricer or Pricer()
        """Prices looked up once per model for this engine's estimates and runs."""

    # ---- planning --------------------------------------------------------------------

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

    def plan(self, spec: RunSpec, *, estimate: bool = False) -> list[_Plan]:
        for ref in spec.models:
            self._profile(ref)
        for ref in rubric_graders(spec):  # an unknown grader profile is the run's error
            self._profile(ref)
        plans: list[_Plan] = []
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
                    sensitive = tuple(sensitive_values(version, values))
                    for repeat in range(spec.repeats):
                        plans.append(
                            _Plan(
                                key=CellKey(
                                    version_id=version.id,
                                    model=ref,
                                    case_index=case_index,
                                    repeat=repeat,
                                ),
                                version=version,
                                request=request,
                                rendered=tuple(m.model_dump() for m in messages),
                                render_error=error,
                                request_hash=(
                                    request_hash(self._profile(ref), request) if request else ""
                                ),
                                sensitive=sensitive,
                            )
                        )
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

    # ---- running ---------------------------------------------------------------------

    async def run(
        self,
        spec: RunSpec,
        observer: RunObserver | None = None,
        cancel: asyncio.Event | None = None,
        run_id: uuid.UUID | None = None,
    ) -> Run:
        """Run the matrix; return the run with every finished cell (also in the vault)."""
        observer = observer or NullObserver()
        plans = self.plan(spec)
        for plan in plans:  # so the app's redaction hides them in logs and errors too
            for _name, value in plan.sensitive:
                register_secret(value)
        # What is stored (and returned) names sensitive values, never holds them.
        run = Run(id=run_id or uuid.uuid4(), spec=masked_spec(spec, self._versions(spec)))
        loop = asyncio.get_running_loop()
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vault-writer")
        # The transport (importing aiohttp, ~0.1-0.5 s) is made on another thread while the
        # writer records the run's start, and its session is opened before the first call.
        making = loop.run_in_executor(None, self._http_factory, spec.concurrency, len(plans))
        await loop.run_in_executor(writer, self.store.start, run)
        cached = (
            await loop.run_in_executor(
                writer, self.store.cached_many, [p.request_hash for p in plans if p.request_hash]
            )
            if spec.use_cache
            else {}
        )
        progress = _Progress()
        finished: list[CellResult] = []
        total = len(plans)
        global_limit = asyncio.Semaphore(spec.concurrency)
        profile_limits = {
            name: asyncio.Semaphore(p.concurrency)
            for name, p in self.profiles.items()
            if p.concurrency is not None
        }
        # genai-prices loads its data on first use (~150 ms): do it off the event loop
        # before any stream is open, not when the first cell finishes. One lookup per
        # model (self.pricer); every cell of the run reuses it.
        await loop.run_in_executor(writer, self._warm_prices, spec)
        http = await making
        await warm_http_client(http)
        clients: dict[str, ProviderClient] = {}
        writes: list[Future[None]] = []

        def flush() -> None:
            # Hand the batch to the writer thread and never wait for (or cancel) it here:
            # a job holding cells always runs, in order, before the run is closed.
            batch, progress.pending = progress.pending, []
            if batch:
                writes.append(writer.submit(self.store.add_cells, run.id, batch))

        def client_for(profile: ProviderProfile) -> ProviderClient:
            if profile.name not in clients:
                key = self.keys(profile) if profile.needs_key else None
                if key:
                    register_secret(key)  # so redact_output hides it in answers
                clients[profile.name] = make_client(profile, key, http)
            return clients[profile.name]

        async def one(plan: _Plan) -> None:
            cell = await self._cell(
                plan, spec, cached, client_for, global_limit, profile_limits, observer, progress
            )
            case = spec.cases[plan.key.case_index]
            cell = with_checks(cell, case)
            cell, graders = await self._grade(
                plan, cell, case, spec, client_for, global_limit, profile_limits, progress
            )
            cell = _masked_cell(cell, plan.sensitive)  # checked in clear, stored masked
            finished.append(cell)
            progress.done += 1
            for call in (cell, *graders):  # grading calls are spending too
                progress.spent += call.cost_usd or 0.0
                answered = (call.answered_by or call.key.model).profile
                progress.spent_by[answered] = progress.spent_by.get(answered, 0.0) + (
                    call.cost_usd or 0.0
                )
            stored = [_masked_cell(g, plan.sensitive) for g in graders]
            progress.pending.extend(stored)
            on_grading = getattr(observer, "on_grading_call", None)
            if on_grading is not None:
                for call in stored:
                    on_grading(call)
            progress.pending.append(cell)
            observer.on_cell(cell, progress.done, total, progress.spent)
            if len(progress.pending) >= self.batch_size:
                flush()

        async def ticker() -> None:
            while True:
                await asyncio.sleep(self.flush_interval)
                flush()

        status: RunStatus = "finished"
        if spec.run_deadline_s is not None:
            progress.deadline = time.monotonic() + spec.run_deadline_s
        tasks = [asyncio.ensure_future(one(p)) for p in plans]
        tick = asyncio.ensure_future(ticker())
        waiter = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
        try:
            gather = asyncio.gather(*tasks)
            if waiter is None:
                await gather
            else:
                watch: list[asyncio.Future[Any]] = [gather, waiter]
                await asyncio.wait(watch, return_when=asyncio.FIRST_COMPLETED)
                if gather.done():
                    gather.result()  # re-raise a real failure
                else:
                    status = "cancelled"
                    gather.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    if gather.done() and not gather.cancelled():
                        # Asked for, not a failure: retrieved, so asyncio does not log
                        # "exception was never retrieved" with a CancelledError traceback.
                        gather.exception()
                    if len(finished) == len(plans):
                        # The last cells finished before the cancel was seen: nothing
                        # is missing, so the run is finished, not cancelled.
                        status = "finished"
        except asyncio.CancelledError:
            status = "cancelled"
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        except BaseException:
            status = "failed"
            raise
        finally:
            tick.cancel()  # it only ever submits; nothing it handed over is lost
            if waiter is not None:
                waiter.cancel()
            # Cancelled or not, every finished cell reaches the vault: the last batch
            # goes after every earlier job on the one writer thread, and the close
            # checks the vault's count against the cells this run finished.
            batch, progress.pending = progress.pending, []
            closing = writer.submit(
                self._close_run, run.id, batch, status, list(writes), len(finished)
            )
            try:
                await asyncio.shield(asyncio.wrap_future(closing))
            except asyncio.CancelledError:
                writer.shutdown(wait=True)  # cancelled again: still let the disk finish
                raise
            finally:
                writer.shutdown(wait=False)
                with contextlib.suppress(Exception):
                    await http.aclose()
        if status == "finished" and len(finished) != total:  # pragma: no cover - a bug
            raise RunIncomplete(f"run {run.id} finished {len(finished)} of {total} cells")
        return run.model_copy(
            update={"status": status, "finished_at": utcnow(), "cells": tuple(finished)}
        )

    def _call_estimate(self, profile: ProviderProfile, model: str, request: ChatRequest) -> float:
        """What one call may cost before it runs (the pre-flight rule); 0 when unpriced
        (budgets count priced calls only)."""
        tokens_in, tokens_out = call_tokens_estimate(
            (m.content for m in request.messages), request.max_tokens
        )
        cost, _source = self.pricer.price(profile, model, tokens_in, tokens_out)
        return cost or 0.0

    def _warm_prices(self, spec: RunSpec) -> None:
        for ref in (*spec.models, *rubric_graders(spec)):
            self.pricer.rate(self._profile(ref), ref.model)

    def _close_run(
        self,
        run_id: uuid.UUID,
        batch: list[CellResult],
        status: RunStatus,
        earlier: list[Future[None]],
        expected: int,
    ) -> None:
        """On the writer thread, after every earlier job: store the last cells, check the
        vault holds exactly the cells the run finished, and mark the run."""
        failures = [f.exception() for f in earlier if f.exception() is not None]
        self.store.add_cells(run_id, batch)
        stored = self.store.count_cells(run_id)
        if stored != expected or failures:
            self.store.finish(run_id, "failed")
            why = f": {failures[0]}" if failures else ""
            raise RunIncomplete(
                f"run {run_id}: {stored} of its {expected} finished cells reached the vault{why}"
            )
        self.store.finish(run_id, status)

    async def _cell(
        self,
        plan: _Plan,
        spec: RunSpec,
        cached: Mapping[str, CellResult],
        client_for: Callable[[ProviderProfile], ProviderClient],
        global_limit: asyncio.Semaphore,
        profile_limits: Mapping[str, asyncio.Semaphore],
        observer: RunObserver,
        progress: _Progress,
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
                    limit, why = _call_limit(spec, progress)
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
        self,
        plan: _Plan,
        cell: CellResult,
        case: TestCase,
        spec: RunSpec,
        client_for: Callable[[ProviderProfile], ProviderClient],
        global_limit: asyncio.Semaphore,
        profile_limits: Mapping[str, asyncio.Semaphore],
        progress: _Progress,
    ) -> tuple[CellResult, list[CellResult]]:
        """Grade the cell's ``rubric`` checks, each by a call to its grader model; return
        the cell with their results and the grading calls made (for the run log).

        A grading call is made like any cell's: through the provider layer with its
        retries and the breaker, under the run's concurrency, deadlines and budgets
        (its estimate reserved before it starts), never cached, without fallbacks,
        without streaming to the observer (its tokens are not the cell's answer)."""
        rubrics = [i for i, a in enumerate(case.assertions) if a.type == "rubric"]
        if not rubrics or not cell.ok:
            return cell, []

        async def grade(assertion: Assertion) -> tuple[CheckResult, CellResult | None]:
            return await self._grade_one(
                assertion, plan, cell, case, spec, client_for, global_limit, profile_limits,
                progress,
            )  # fmt: skip

        results = await asyncio.gather(*(grade(case.assertions[i]) for i in rubrics))
        checks = list(cell.checks)
        calls: list[CellResult] = []
        for index, (result, call) in zip(rubrics, results, strict=True):
            checks[index] = result
            if call is not None:
                calls.append(call)
        return cell.model_copy(update={"checks": tuple(checks)}), calls

    async def _grade_one(
        self,
        assertion: Assertion,
        plan: _Plan,
        cell: CellResult,
        case: TestCase,
        spec: RunSpec,
        client_for: Callable[[ProviderProfile], ProviderClient],
        global_limit: asyncio.Semaphore,
        profile_limits: Mapping[str, asyncio.Semaphore],
        progress: _Progress,
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
        grading = _Plan(
            key=plan.key.model_copy(update={"model": ref}),
            version=plan.version,
            request=request,
            rendered=tuple(messages),
            request_hash=request_hash(profile, request),
            sensitive=plan.sensitive,
            grader=True,
        )
        call = await self._cell(
            grading, spec, {}, client_for, global_limit, profile_limits, NullObserver(), progress
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


def _call_limit(spec: RunSpec, progress: _Progress) -> tuple[float | None, str]:
    """Seconds the next call may take (None: unbounded), and which bound that is."""
    call = spec.call_deadline_s
    if progress.deadline is None:
        return call, f"call deadline of {call:g} s"
    left = progress.deadline - time.monotonic()
    if call is not None and call <= left:
        return call, f"call deadline of {call:g} s"
    return left, f"run deadline of {spec.run_deadline_s:g} s"


def rubric_graders(spec: RunSpec) -> list[ModelRef]:
    """The grader models the run's ``rubric`` assertions name, each once."""
    refs = [
        ModelRef.parse(a.model)
        for case in spec.cases
        for a in case.assertions
        if a.type == "rubric" and a.model
    ]
    return list(dict.fromkeys(refs))


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


def _default_http_client(concurrency: int, calls: int) -> httpx.AsyncClient:
    """aiohttp's transport, whatever the number of calls: it stamps when the request was
    written and when the first byte was read. httpx's own transport for a handful of
    calls (chosen to skip importing aiohttp) made the same process no faster and charged
    the model 35-50 ms of TTFT it did not take (one call: 235-251 ms read against the
    server's 200 ms; aiohttp 201.8-202.7 ms, 6 runs each)."""
    del calls
    return make_http_client(max_connections=max(concurrency, 16))


def run_sync(
    engine: Engine,
    spec: RunSpec,
    observer: RunObserver | None = None,
) -> Run:
    """Run from synchronous code (the CLI): a fresh event loop, Ctrl+C cancels cleanly."""
    done: list[Run] = []

    async def go() -> None:
        # Returns nothing: on 3.11 asyncio.run formats the main task's result twice on
        # the way out, ~25 ms for a 1,200-cell run.
        done.append(await engine.run(spec, observer))

    asyncio.run(go())
    return done[0]
