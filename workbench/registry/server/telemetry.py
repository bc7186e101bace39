"""Production telemetry: ingest of GenAI spans, linking, rollups, canary guard rails,
per-version stats and "what served this?".

One ingest request is one transaction: its new spans, the rollup additions and any
canary halt they cause commit together or not at all. Spans are linked to a version

1. by their prompt attributes (``workbench.prompt.name``/``.version``, Langfuse's
   ``langfuse.observation.prompt.name``/``.version``), the label from
   ``workbench.prompt.label``, else from the resolution on record, else the one label
   of the prompt that serves that version now;
2. else by the resolution on record for the span's app (the token's user) and caller
   key (``workbench.caller_key``, ``langfuse.user.id``, ``user.id``) at its time.

A span that names a prompt the registry does not have, or that nothing links, is
stored unlinked (it still counts for its app) and counted in the answer.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, select

from workbench.core.errors import InputError, NotFoundError
from workbench.core.models import utcnow
from workbench.registry.server.canary_halts import halt_crossed_canaries
from workbench.registry.server.config import RegistrySettings
from workbench.registry.server.db import Database
from workbench.registry.server.otlp import Decoded
from workbench.registry.server.pricing import priced
from workbench.registry.server.resolutions import FLUSH_INTERVAL_S, ResolutionLog
from workbench.registry.server.rollups import Figures, RollupKey, add_rollups, hour_of, summed
from workbench.registry.server.served import what_served
from workbench.registry.server.span_linking import LinkedSpan, distinct_spans, link_spans, span_row
from workbench.registry.server.tables import (
    PromptRow,
    ResolutionRow,
    SpanRow,
)
from workbench.registry.server.upsert import insert_new
from workbench.registry.telemetry_schemas import (
    AppStats,
    IngestResult,
    ProdStats,
    ServedAnswer,
    VersionStats,
)

log = logging.getLogger("workbench.registry.telemetry")
SPANS: Table = SpanRow.__table__  # type: ignore[assignment]

PRUNE_EVERY_S = 3600.0


class Telemetry:
    """The telemetry side of the registry; one per app process, beside the service."""

    def __init__(self, db: Database, settings: RegistrySettings) -> None:
        self.db = db
        self.settings = settings
        self.resolutions = ResolutionLog(db)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- background: flush resolutions, prune old spans --------------------------------

    def start(self) -> None:
        """Start the thread that flushes resolutions and applies the span retention."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="registry-telemetry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        try:
            self.resolutions.flush()
        except Exception as exc:
            log.warning("resolutions not flushed at shutdown: %s", type(exc).__name__)

    def _loop(self) -> None:
        next_prune = 0.0
        waited = 0.0
        while not self._stop.wait(FLUSH_INTERVAL_S):
            waited += FLUSH_INTERVAL_S
            try:
                self.resolutions.flush()
                if waited >= next_prune:
                    self.prune()
                    next_prune = waited + PRUNE_EVERY_S
            except Exception as exc:  # the next round tries again
                log.warning("telemetry housekeeping failed: %s", type(exc).__name__)

    def prune(self, now: datetime | None = None) -> int:
        """Delete raw spans and resolutions older than the retention (rollups stay)."""
        days = self.settings.span_retention_days
        if not days:
            return 0
        cutoff = (now or utcnow()) - timedelta(days=days)
        with self.db.writing() as session:
            result: Any = session.execute(delete(SpanRow).where(SpanRow.at < cutoff))
            session.execute(delete(ResolutionRow).where(ResolutionRow.last_seen < cutoff))
        return int(result.rowcount or 0)

    # --- the hot path's note -------------------------------------------------------------

    def note_resolution(
        self,
        app: str,
        key: str | None,
        prompt: str,
        label: str,
        version_id: uuid.UUID,
        number: int,
        served: str,
    ) -> None:
        self.resolutions.note(
            app=app,
            key=key,
            prompt=prompt,
            label=label,
            version_id=version_id,
            number=number,
            served=served,
            at=utcnow(),
        )

    # --- ingest ----------------------------------------------------------------------------

    def ingest(
        self, app: str, decoded: Decoded, may_read: Callable[[str], bool] | None = None
    ) -> IngestResult:
        """Store the GenAI spans of one request, linked, rolled up, guards checked.
        A span naming a prompt outside the app's scope (``may_read``) stays unlinked."""
        self.resolutions.flush()  # this process's resolutions, so linking sees them
        return self._ingest(app, decoded, may_read)

    def _ingest(
        self, app: str, decoded: Decoded, may_read: Callable[[str], bool] | None
    ) -> IngestResult:
        now = utcnow()
        with self.db.writing() as session:
            linked = [LinkedSpan(priced(s)) for s in distinct_spans(decoded.spans)]
            unknown = link_spans(session, app, linked, may_read)
            # Only what was not stored before counts: an exporter's retry, even one
            # racing its first attempt in another worker, adds nothing twice.
            stored = insert_new(
                session,
                SPANS,
                [span_row(app, item, now) for item in linked],
                ("trace_id", "span_id"),
            )
            duplicates = len(decoded.spans) - len(stored)
            linked = [i for i in linked if (i.span.trace_id, i.span.span_id) in stored]
            grouped: dict[RollupKey, Figures] = defaultdict(Figures)
            for item in linked:
                key: RollupKey = (
                    item.prompt or "",
                    item.number or 0,
                    item.label or "",
                    app,
                    hour_of(item.span.at),
                )
                grouped[key].add_span(item.span)
            add_rollups(session, grouped)
            touched = sorted({(i.prompt, i.label) for i in linked if i.prompt and i.label})
            halted = halt_crossed_canaries(session, touched, now)
        unlinked = sum(1 for i in linked if i.version_id is None)
        if unknown:
            log.info("%d span(s) from %s name unknown prompts or versions", unknown, app)
        return IngestResult(
            received=decoded.received,
            stored=len(linked),
            ignored=decoded.ignored,
            duplicates=duplicates,
            rejected=decoded.rejected,
            unlinked=unlinked,
            halted=tuple(halted),
        )

    # --- stats -----------------------------------------------------------------------------

    def stats(self, prompt: str, since: datetime, until: datetime) -> ProdStats:
        """Per version and label over the window, from the rollups alone."""
        if until <= since:
            raise InputError(
                "the window ends before it starts", hint="Give a 'since' before 'until'."
            )
        with self.db.reading() as session:
            if (
                session.execute(select(PromptRow.id).where(PromptRow.name == prompt)).first()
                is None
            ):
                raise NotFoundError(f"no prompt named {prompt!r}", hint="Check the name.")
            groups: dict[tuple[int, str], list[tuple[str, datetime, Figures]]] = defaultdict(list)
            for number, label, app, first, figures in summed(session, prompt, since, until):
                groups[(number, label)].append((app, first, figures))
        rows = []
        for (number, label), per_app in sorted(
            groups.items(), key=lambda kv: (-kv[0][0], kv[0][1])
        ):
            whole = Figures()
            for _app, _first, f in per_app:
                whole.add(f)
            start = max(hour_of(since), min(first for _a, first, _f in per_app))
            days = max((until - start).total_seconds() / 86400, 1 / 24)
            rows.append(
                VersionStats(
                    version=number or None,
                    label=label or None,
                    calls=whole.calls,
                    errors=whole.errors,
                    error_rate=whole.error_rate,
                    p50_ms=whole.p(0.5),
                    p95_ms=whole.p(0.95),
                    ttft_p50_ms=whole.ttft_p(0.5),
                    input_tokens=whole.input_tokens,
                    output_tokens=whole.output_tokens,
                    cost_usd=whole.cost_usd,
                    unpriced=whole.unpriced,
                    cost_per_day_usd=whole.cost_usd / days,
                    cost_per_call_usd=whole.cost_per_call,
                    by_app=tuple(
                        AppStats(app=a, calls=f.calls, errors=f.errors, cost_usd=f.cost_usd)
                        for a, _first, f in sorted(per_app, key=lambda x: -x[2].calls)
                    ),
                )
            )
        return ProdStats(prompt=prompt, since=since, until=until, rows=tuple(rows))

    # --- what served this? -------------------------------------------------------------------

    def served(
        self,
        *,
        trace_id: str | None = None,
        app: str | None = None,
        key: str | None = None,
        at: datetime | None = None,
    ) -> ServedAnswer:
        """The calls of a trace, or of an app's caller around a time, and the resolution
        in force for them (see :func:`.served.what_served`)."""
        self.resolutions.flush()
        return what_served(self.db, trace_id=trace_id, app=app, key=key, at=at)
