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
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx

from workbench.core.models import utcnow
from workbench.core.runs import (
    CellResult,
    Run,
    RunSpec,
    RunStatus,
)
from workbench.engine.breaker import BREAKER_THRESHOLD
from workbench.engine.calls import Caller, with_checks
from workbench.engine.masking import masked_cell, masked_spec
from workbench.engine.planning import (
    DEFAULT_OUTPUT_GUESS,
    BindingResolver,
    CellPlan,
    Estimate,
    KeyResolver,
    NullObserver,
    RunObserver,
    call_tokens_estimate,
    rubric_graders,
)
from workbench.engine.pricing import Pricer
from workbench.engine.progress import RunIncomplete, RunProgress
from workbench.providers.base import (
    ProviderClient,
)
from workbench.providers.http import (
    make_http_client,
    warm_http_client,
)
from workbench.providers.profiles import ProviderProfile, make_client
from workbench.secrets.redaction import register_secret
from workbench.vault.repository import Vault
from workbench.vault.runs import RunStore

# The names the app and the window import from here (``workbench.engine.runner`` is the
# engine's public module; the planning, calling and masking parts live beside it).
__all__ = [
    "DEFAULT_OUTPUT_GUESS",
    "ECHO_PROFILE",
    "BindingResolver",
    "Engine",
    "Estimate",
    "KeyResolver",
    "NullObserver",
    "RunIncomplete",
    "RunObserver",
    "call_tokens_estimate",
    "rubric_graders",
    "run_sync",
    "with_checks",
]

log = logging.getLogger(__name__)

ECHO_PROFILE = ProviderProfile(name="echo", family="echo")


class Engine(Caller):
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
        progress = RunProgress()
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

        async def one(plan: CellPlan) -> None:
            cell = await self._cell(
                plan, spec, cached, client_for, global_limit, profile_limits, observer, progress
            )
            case = spec.cases[plan.key.case_index]
            cell = with_checks(cell, case)
            cell, graders = await self._grade(
                plan, cell, case, spec, client_for, global_limit, profile_limits, progress
            )
            cell = masked_cell(cell, plan.sensitive)  # checked in clear, stored masked
            finished.append(cell)
            progress.done += 1
            for call in (cell, *graders):  # grading calls are spending too
                progress.spent += call.cost_usd or 0.0
                answered = (call.answered_by or call.key.model).profile
                progress.spent_by[answered] = progress.spent_by.get(answered, 0.0) + (
                    call.cost_usd or 0.0
                )
            stored = [masked_cell(g, plan.sensitive) for g in graders]
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
