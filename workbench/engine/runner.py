"""The comparison engine: versions x models x test cases x repeats, streamed and recorded.

asyncio + one shared :class:`~workbench.providers.http.ProviderHttp`; a global
concurrency limit and one per provider profile; every cell records output, tokens,
cost, time to first token and latency on a monotonic clock, retries, errors, the
request hash and whether the answer came from the response cache. Finished cells are
written to the vault in batches on one writer thread, so a crash mid-run keeps every
finished cell and the event loop never waits on the disk.

Observers see token deltas, then each finished cell, as they happen. Cancelling
(``cancel.set()`` or cancelling the task) ends every in-flight call at once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future

from workbench.core.models import utcnow
from workbench.core.runs import (
    CellResult,
    Run,
    RunSpec,
    RunStatus,
)
from workbench.engine.breaker import BREAKER_THRESHOLD
from workbench.engine.calls import Caller, with_checks
from workbench.engine.masking import masked_spec
from workbench.engine.planning import (
    DEFAULT_OUTPUT_GUESS,
    BindingResolver,
    Estimate,
    KeyResolver,
    NullObserver,
    RunObserver,
    RunVault,
    call_tokens_estimate,
    rubric_graders,
)
from workbench.engine.pricing import Pricer
from workbench.engine.progress import RunIncomplete
from workbench.engine.session import RunSession
from workbench.providers.http import ProviderHttp, make_http_client
from workbench.providers.profiles import ProviderProfile
from workbench.secrets.redaction import register_secret

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
    "RunVault",
    "call_tokens_estimate",
    "rubric_graders",
    "run_sync",
    "with_checks",
]

log = logging.getLogger(__name__)

ECHO_PROFILE = ProviderProfile(name="echo", family="echo")


class Engine(Caller):
    """Runs a spec: plans it (:class:`~workbench.engine.planning.Planner`), makes its
    calls (:class:`~workbench.engine.calls.Caller`) and records every finished cell
    through one :class:`~workbench.engine.session.RunSession` per run."""

    def __init__(
        self,
        vault: RunVault,
        profiles: Mapping[str, ProviderProfile],
        keys: KeyResolver | None = None,
        *,
        http_client_factory: Callable[[int, int], ProviderHttp] | None = None,
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
        self.store = vault.run_log()
        self.profiles = {"echo": ECHO_PROFILE, **profiles}
        self.keys = keys or (lambda _p: None)
        self.http_factory = http_client_factory or _default_http_client
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
        session = await RunSession.open(self, spec, run, plans, observer)
        try:
            await session.schedule(cancel)
        finally:
            await session.close()
        status, finished = session.status, session.finished
        if status == "finished" and len(finished) != len(plans):  # pragma: no cover - a bug
            raise RunIncomplete(f"run {run.id} finished {len(finished)} of {len(plans)} cells")
        return run.model_copy(
            update={"status": status, "finished_at": utcnow(), "cells": tuple(finished)}
        )

    def warm_prices(self, spec: RunSpec) -> None:
        """Each model's price looked up once (on the writer thread, before the first call)."""
        for ref in (*spec.models, *rubric_graders(spec)):
            self.pricer.rate(self._profile(ref), ref.model)

    def close_run(
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


def _default_http_client(concurrency: int, calls: int) -> ProviderHttp:
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
