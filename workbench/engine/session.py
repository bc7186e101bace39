"""One run of the engine while it runs: its cell tasks, its writer thread, its close.

:meth:`workbench.engine.runner.Engine.run` opens a :class:`RunSession` (the run's start
recorded, cached answers read, prices and the transport ready before the first call),
schedules every cell, and closes it whatever happened. The close is the one path by
which finished cells reach the vault: batches go to the single writer thread in
order, no job holding cells is ever cancelled, and the last job checks the vault's
count against the cells the run finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.core.runs import CellResult, Run, RunSpec, RunStatus
from workbench.engine.calls import with_checks
from workbench.engine.masking import masked_cell
from workbench.engine.planning import CellPlan, RunObserver
from workbench.engine.progress import RunProgress
from workbench.providers.base import ProviderClient
from workbench.providers.http import ProviderHttp
from workbench.providers.profiles import ProviderProfile, make_client
from workbench.secrets.redaction import register_secret

if TYPE_CHECKING:
    from workbench.engine.runner import Engine


@dataclass
class RunSession:
    """The state of one run in flight (made by :meth:`open`, ended by :meth:`close`)."""

    engine: Engine
    spec: RunSpec
    run: Run
    plans: list[CellPlan]
    observer: RunObserver
    writer: ThreadPoolExecutor
    http: ProviderHttp
    cached: Mapping[str, CellResult]
    progress: RunProgress = field(default_factory=RunProgress)
    finished: list[CellResult] = field(default_factory=list)
    status: RunStatus = "finished"
    writes: list[Future[None]] = field(default_factory=list)
    clients: dict[str, ProviderClient] = field(default_factory=dict)
    global_limit: asyncio.Semaphore = field(init=False)
    profile_limits: dict[str, asyncio.Semaphore] = field(init=False)

    def __post_init__(self) -> None:
        self.global_limit = asyncio.Semaphore(self.spec.concurrency)
        self.profile_limits = {
            name: asyncio.Semaphore(p.concurrency)
            for name, p in self.engine.profiles.items()
            if p.concurrency is not None
        }
        if self.spec.run_deadline_s is not None:
            self.progress.deadline = time.monotonic() + self.spec.run_deadline_s

    @classmethod
    async def open(
        cls, engine: Engine, spec: RunSpec, run: Run, plans: list[CellPlan], observer: RunObserver
    ) -> RunSession:
        """Record the run's start and get everything its first call needs ready."""
        loop = asyncio.get_running_loop()
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vault-writer")
        # The transport (importing aiohttp, ~0.1-0.5 s) is made on another thread while the
        # writer records the run's start, and its session is opened before the first call.
        making = loop.run_in_executor(None, engine.http_factory, spec.concurrency, len(plans))
        store = engine.store
        await loop.run_in_executor(writer, store.start, run)
        cached = (
            await loop.run_in_executor(
                writer, store.cached_many, [p.request_hash for p in plans if p.request_hash]
            )
            if spec.use_cache
            else {}
        )
        # genai-prices loads its data on first use (~150 ms): do it off the event loop
        # before any stream is open, not when the first cell finishes. One lookup per
        # model (engine.pricer); every cell of the run reuses it.
        await loop.run_in_executor(writer, engine.warm_prices, spec)
        http = await making
        await http.warm()
        return cls(engine, spec, run, plans, observer, writer, http, cached)

    # ---- cells -----------------------------------------------------------------------

    def client_for(self, profile: ProviderProfile) -> ProviderClient:
        if profile.name not in self.clients:
            key = self.engine.keys(profile) if profile.needs_key else None
            if key:
                register_secret(key)  # so redact_output hides it in answers
            self.clients[profile.name] = make_client(profile, key, self.http)
        return self.clients[profile.name]

    async def one(self, plan: CellPlan) -> None:
        """Run, check and grade one cell, then record it."""
        engine, spec, progress = self.engine, self.spec, self.progress
        limits = (self.global_limit, self.profile_limits)
        cell = await engine._cell(
            plan, spec, self.cached, self.client_for, *limits, self.observer, progress
        )
        case = spec.cases[plan.key.case_index]
        cell = with_checks(cell, case)
        cell, graders = await engine._grade(self, plan, cell, case)
        self.record(masked_cell(cell, plan.sensitive), graders, plan)

    def record(self, cell: CellResult, graders: list[CellResult], plan: CellPlan) -> None:
        """Count a finished cell (checked in clear, stored masked) and its grading calls
        as spending, show them to the observer and queue them for the vault."""
        progress = self.progress
        self.finished.append(cell)
        progress.done += 1
        for call in (cell, *graders):  # grading calls are spending too
            progress.spent += call.cost_usd or 0.0
            answered = (call.answered_by or call.key.model).profile
            progress.spent_by[answered] = progress.spent_by.get(answered, 0.0) + (
                call.cost_usd or 0.0
            )
        stored = [masked_cell(g, plan.sensitive) for g in graders]
        progress.pending.extend(stored)
        on_grading = getattr(self.observer, "on_grading_call", None)
        if on_grading is not None:
            for call in stored:
                on_grading(call)
        progress.pending.append(cell)
        self.observer.on_cell(cell, progress.done, len(self.plans), progress.spent)
        if len(progress.pending) >= self.engine.batch_size:
            self.flush()

    # ---- writing ---------------------------------------------------------------------

    def flush(self) -> None:
        # Hand the batch to the writer thread and never wait for (or cancel) it here:
        # a job holding cells always runs, in order, before the run is closed.
        batch, self.progress.pending = self.progress.pending, []
        if batch:
            self.writes.append(self.writer.submit(self.engine.store.add_cells, self.run.id, batch))

    async def ticker(self) -> None:
        while True:
            await asyncio.sleep(self.engine.flush_interval)
            self.flush()

    # ---- scheduling ------------------------------------------------------------------

    async def schedule(self, cancel: asyncio.Event | None) -> None:
        """Run every cell; return when all are done, or when ``cancel`` is set (then
        ``status`` is "cancelled" unless every cell had finished anyway)."""
        tasks = [asyncio.ensure_future(self.one(p)) for p in self.plans]
        tick = asyncio.ensure_future(self.ticker())
        waiter = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
        try:
            gather = asyncio.gather(*tasks)
            if waiter is None:
                await gather
                return
            watch: list[asyncio.Future[Any]] = [gather, waiter]
            await asyncio.wait(watch, return_when=asyncio.FIRST_COMPLETED)
            if gather.done():
                gather.result()  # re-raise a real failure
                return
            self.status = "cancelled"
            gather.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if gather.done() and not gather.cancelled():
                # Asked for, not a failure: retrieved, so asyncio does not log
                # "exception was never retrieved" with a CancelledError traceback.
                gather.exception()
            if len(self.finished) == len(self.plans):
                # The last cells finished before the cancel was seen: nothing is
                # missing, so the run is finished, not cancelled.
                self.status = "finished"
        except asyncio.CancelledError:
            self.status = "cancelled"
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        except BaseException:
            self.status = "failed"
            raise
        finally:
            tick.cancel()  # it only ever submits; nothing it handed over is lost
            if waiter is not None:
                waiter.cancel()

    # ---- closing ---------------------------------------------------------------------

    async def close(self) -> None:
        """Cancelled or not, every finished cell reaches the vault: the last batch goes
        after every earlier job on the one writer thread, and the close checks the
        vault's count against the cells this run finished."""
        batch, self.progress.pending = self.progress.pending, []
        closing = self.writer.submit(
            self.engine.close_run,
            self.run.id,
            batch,
            self.status,
            list(self.writes),
            len(self.finished),
        )
        try:
            await asyncio.shield(asyncio.wrap_future(closing))
        except asyncio.CancelledError:
            self.writer.shutdown(wait=True)  # cancelled again: still let the disk finish
            raise
        finally:
            self.writer.shutdown(wait=False)
            with contextlib.suppress(Exception):
                await self.http.aclose()
