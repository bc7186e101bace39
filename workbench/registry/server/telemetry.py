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
from sqlalchemy.orm import Session

from workbench.core.errors import InputError, NotFoundError
from workbench.core.models import PromptContent, utcnow
from workbench.registry.schemas import (
    AppStats,
    CanaryGuards,
    CanaryHalt,
    IngestResult,
    ProdStats,
    Resolution,
    ServedAnswer,
    ServedCall,
    VersionStats,
)
from workbench.registry.server import repository as repo
from workbench.registry.server.config import RegistrySettings
from workbench.registry.server.db import Database
from workbench.registry.server.guards import judge
from workbench.registry.server.otlp import Decoded, GenAISpan
from workbench.registry.server.pricing import priced
from workbench.registry.server.resolutions import FLUSH_INTERVAL_S, ResolutionLog
from workbench.registry.server.rollups import Figures, RollupKey, add_rollups, hour_of, summed
from workbench.registry.server.tables import (
    LabelRow,
    PromptRow,
    ResolutionRow,
    SpanRow,
    VersionRow,
)
from workbench.registry.server.upsert import insert_new

log = logging.getLogger("workbench.registry.telemetry")
SPANS: Table = SpanRow.__table__  # type: ignore[assignment]

CLOCK_SKEW = timedelta(seconds=30)
"""A span may start this much before the registry's record of its resolution (the
app's clock and the registry's differ)."""
HALT_ACTOR = "registry"
PRUNE_EVERY_S = 3600.0
MAX_SERVED = 50


class _Linked:
    """A decoded span and what it is linked to."""

    __slots__ = ("label", "linked_by", "number", "prompt", "span", "version_id")

    def __init__(self, span: GenAISpan) -> None:
        self.span = span
        self.prompt: str | None = None
        self.number: int | None = None
        self.version_id: uuid.UUID | None = None
        self.label: str | None = span.label
        self.linked_by: str | None = None


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
            linked = [_Linked(priced(s)) for s in _distinct(decoded.spans)]
            unknown = self._link(session, app, linked, may_read)
            # Only what was not stored before counts: an exporter's retry, even one
            # racing its first attempt in another worker, adds nothing twice.
            stored = insert_new(
                session,
                SPANS,
                [self._row(app, item, now) for item in linked],
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
            halted = self._check_guards(session, touched, now)
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

    def _link(
        self,
        session: Session,
        app: str,
        items: list[_Linked],
        may_read: Callable[[str], bool] | None = None,
    ) -> int:
        """Link each span to a version; returns how many named an unknown prompt/version
        (or one outside the app's scope: the same answer, so a scope leaks no names)."""
        named = {
            (i.span.prompt, i.span.version)
            for i in items
            if i.span.prompt and (may_read is None or may_read(i.span.prompt))
        }
        prompts = {p for p, _ in named if p}
        versions: dict[tuple[str, int], uuid.UUID] = {}
        known_prompts: set[str] = set()
        serving: dict[tuple[str, uuid.UUID], list[str]] = defaultdict(list)
        if prompts:
            rows = session.execute(
                select(PromptRow.name, VersionRow.number, VersionRow.id)
                .join(VersionRow, VersionRow.prompt_id == PromptRow.id)
                .where(PromptRow.name.in_(sorted(prompts)))
            )
            for name, number, vid in rows:
                known_prompts.add(name)
                versions[(name, number)] = vid
            labels = session.execute(
                select(
                    PromptRow.name, LabelRow.name, LabelRow.version_id, LabelRow.canary_version_id
                )
                .join(LabelRow, LabelRow.prompt_id == PromptRow.id)
                .where(PromptRow.name.in_(sorted(prompts)))
            )
            for pname, lname, vid, cid in labels:
                serving[(pname, vid)].append(lname)
                if cid is not None:
                    serving[(pname, cid)].append(lname)
        keys = sorted({i.span.caller_key or "" for i in items})
        records: dict[str, list[ResolutionRow]] = defaultdict(list)
        if items:
            for start in range(0, len(keys), 500):
                stmt = select(ResolutionRow).where(
                    ResolutionRow.app == app,
                    ResolutionRow.caller_key.in_(keys[start : start + 500]),
                )
                for r in session.execute(stmt).scalars():
                    records[r.caller_key].append(r)
        unknown = 0
        for item in items:
            span = item.span
            if span.prompt and span.prompt not in known_prompts:
                unknown += 1
                continue  # a prompt the registry does not have: unlinked
            if span.prompt and span.version is not None:
                known = versions.get((span.prompt, span.version))
                if known is None:
                    unknown += 1
                    continue
                vid = known
                item.prompt, item.number, item.version_id = span.prompt, span.version, vid
                item.linked_by = "attribute"
                if item.label is None:
                    found = _record_at(records, span, prompt=span.prompt, version_id=vid)
                    if found is not None:
                        item.label = found.label
                    elif len(serving.get((span.prompt, vid), [])) == 1:
                        item.label = serving[(span.prompt, vid)][0]
                continue
            if span.caller_key is None and span.prompt is None:
                continue  # nothing to go by
            found = _record_at(records, span, prompt=span.prompt, label=span.label)
            if found is not None:
                item.prompt, item.number = found.prompt, found.version_number
                item.version_id, item.label = found.version_id, found.label
                item.linked_by = "resolution"
            elif span.prompt:
                item.prompt = span.prompt  # the prompt is known, its version is not
        return unknown

    @staticmethod
    def _row(app: str, item: _Linked, now: datetime) -> dict[str, Any]:
        s = item.span
        return {
            "trace_id": s.trace_id,
            "span_id": s.span_id,
            "app": app,
            "at": s.at,
            "received_at": now,
            "prompt": item.prompt,
            "version_number": item.number,
            "version_id": item.version_id,
            "label": item.label,
            "linked_by": item.linked_by,
            "provider": s.provider,
            "request_model": s.request_model,
            "response_model": s.response_model,
            "input_tokens": s.input_tokens,
            "output_tokens": s.output_tokens,
            "cost_usd": s.cost_usd,
            "latency_ms": s.latency_ms,
            "ttft_ms": s.ttft_ms,
            "error": s.error,
            "finish_reasons": ",".join(s.finish_reasons)[:200],
            "caller_key": s.caller_key,
        }

    # --- canary guard rails ------------------------------------------------------------------

    def _check_guards(
        self, session: Session, touched: list[tuple[str, str]], now: datetime
    ) -> list[str]:
        """Judge every guarded canary these spans touched; halt those that cross a limit."""
        halted: list[str] = []
        for prompt, label in touched:
            row = session.execute(
                select(LabelRow)
                .join(PromptRow, PromptRow.id == LabelRow.prompt_id)
                .where(PromptRow.name == prompt, LabelRow.name == label)
            ).scalar_one_or_none()
            if row is None or row.canary_version_id is None or not row.canary_guards:
                continue
            verdict_args = self._judge(session, prompt, row)
            if verdict_args is None:
                continue
            verdict, canary_number = verdict_args
            # Take the writers' lock, then read the label again: halt only the canary that
            # was judged (a publisher may have moved it meanwhile).
            head = repo.lock_head(session)
            session.refresh(row, with_for_update=True)
            if row.canary_version_id is None or not row.canary_guards:
                continue
            canary_id = row.canary_version_id
            before = repo.target_of(row)
            halt = CanaryHalt(
                at=now,
                canary_version_id=canary_id,
                canary_number=canary_number,
                reason=verdict.reason,
                evidence=verdict.evidence,
            )
            row.canary_version_id = None
            row.canary_percent = 0
            row.canary_guards = None
            row.halted = halt.model_dump_json()
            row.updated_at = now
            row.updated_by = HALT_ACTOR
            session.flush()
            repo.add_change(session, head, kind="label", prompt=prompt, ref=str(row.id), at=now)
            repo.append_audit(
                session,
                head,
                at=now,
                actor=HALT_ACTOR,
                action="label.canary_halt",
                subject=f"prompt:{prompt}",
                detail={
                    "label": label,
                    "from": before.model_dump(mode="json"),
                    "to": repo.target_of(row).model_dump(mode="json"),
                    "canary_number": canary_number,
                    "reason": verdict.reason,
                    "evidence": verdict.evidence,
                },
            )
            log.warning("canary of %s@%s halted: %s", prompt, label, verdict.reason)
            halted.append(f"{prompt}@{label}")
        return halted

    def _judge(self, session: Session, prompt: str, row: LabelRow) -> Any:
        guards = CanaryGuards.model_validate_json(row.canary_guards or "{}")
        numbers = dict(
            session.execute(
                select(VersionRow.id, VersionRow.number).where(
                    VersionRow.id.in_([row.version_id, row.canary_version_id])
                )
            ).all()
        )
        assert row.canary_version_id is not None
        stable_no, canary_no = numbers[row.version_id], numbers[row.canary_version_id]
        since = row.updated_at
        canary, stable = Figures(), Figures()
        for number, _label, _app, _first, figures in summed(
            session, prompt, since, versions=[stable_no, canary_no], label=row.name
        ):
            (canary if number == canary_no else stable).add(figures)
        verdict = judge(guards, canary, stable)
        return None if verdict is None else (verdict, canary_no)

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
        in force for them."""
        self.resolutions.flush()
        with self.db.reading() as session:
            if trace_id is not None:
                stmt = (
                    select(SpanRow)
                    .where(SpanRow.trace_id == trace_id.lower())
                    .order_by(SpanRow.at)
                    .limit(MAX_SERVED)
                )
                spans = list(session.execute(stmt).scalars())
                if not spans:
                    raise NotFoundError(
                        f"no production call is stored for trace {trace_id}",
                        hint="Check the id (32 hex digits), or the span retention.",
                    )
                first = spans[0]
                app, key, at = first.app, first.caller_key, first.at
            else:
                if app is None or at is None:
                    raise InputError(
                        "give a trace id, or an app and a time (and a caller key)",
                        hint="e.g. --app shop --key user-42 --at 2026-12-04T10:00:00Z",
                    )
                window = timedelta(minutes=5)
                stmt = (
                    select(SpanRow)
                    .where(
                        SpanRow.app == app,
                        SpanRow.caller_key.is_(None) if key is None else SpanRow.caller_key == key,
                        SpanRow.at >= at - window,
                        SpanRow.at <= at + window,
                    )
                    .order_by(SpanRow.at)
                    .limit(MAX_SERVED)
                )
                spans = list(session.execute(stmt).scalars())
            resolution = self._resolution_at(session, app, key, at, spans)
            contents: dict[uuid.UUID, PromptContent] = {}
            wanted = {s.version_id for s in spans if s.version_id is not None}
            if resolution is not None:
                wanted.add(resolution.version_id)
            if wanted:
                for vid, content in session.execute(
                    select(VersionRow.id, VersionRow.content).where(VersionRow.id.in_(wanted))
                ):
                    contents[vid] = PromptContent.model_validate_json(content)
        if not spans and resolution is None:
            raise NotFoundError(
                f"nothing on record for app {app!r}"
                + (f", key {key!r}" if key else "")
                + f" around {at:%Y-%m-%d %H:%M:%S} UTC",
                hint="Check the app (the token's user), the key and the time (UTC).",
            )

        def params(vid: uuid.UUID | None) -> dict[str, object] | None:
            return contents[vid].model.canonical() if vid in contents else None

        calls = tuple(
            ServedCall(
                trace_id=s.trace_id,
                span_id=s.span_id,
                app=s.app,
                at=s.at,
                prompt=s.prompt,
                version=s.version_number,
                version_id=s.version_id,
                label=s.label,
                linked_by=s.linked_by,
                provider=s.provider,
                request_model=s.request_model,
                response_model=s.response_model,
                input_tokens=s.input_tokens,
                output_tokens=s.output_tokens,
                cost_usd=s.cost_usd,
                latency_ms=s.latency_ms,
                ttft_ms=s.ttft_ms,
                error=s.error,
                finish_reasons=tuple(r for r in s.finish_reasons.split(",") if r),
                caller_key=s.caller_key,
                parameters=params(s.version_id),
            )
            for s in spans
        )
        return ServedAnswer(
            calls=calls,
            resolution=resolution,
            parameters=params(resolution.version_id) if resolution else None,
        )

    @staticmethod
    def _resolution_at(
        session: Session, app: str, key: str | None, at: datetime, spans: list[SpanRow]
    ) -> Resolution | None:
        stmt = select(ResolutionRow).where(
            ResolutionRow.app == app,
            ResolutionRow.caller_key == (key or ""),
            ResolutionRow.first_seen <= at + CLOCK_SKEW,
        )
        prompts = {s.prompt for s in spans if s.prompt}
        if len(prompts) == 1:
            stmt = stmt.where(ResolutionRow.prompt == next(iter(prompts)))
        row = session.execute(
            stmt.order_by(ResolutionRow.first_seen.desc()).limit(1)
        ).scalar_one_or_none()
        if row is None:
            return None
        return Resolution(
            app=row.app,
            key=row.caller_key or None,
            prompt=row.prompt,
            label=row.label,
            version_id=row.version_id,
            version=row.version_number,
            served=row.served,
            first_seen=row.first_seen,
            last_seen=row.last_seen,
        )


def _distinct(spans: list[GenAISpan]) -> list[GenAISpan]:
    """The spans of a request, each (trace id, span id) once."""
    seen: set[tuple[str, str]] = set()
    out = []
    for span in spans:
        ident = (span.trace_id, span.span_id)
        if ident not in seen:
            seen.add(ident)
            out.append(span)
    return out


def _record_at(
    records: dict[str, list[ResolutionRow]],
    span: GenAISpan,
    *,
    prompt: str | None = None,
    label: str | None = None,
    version_id: uuid.UUID | None = None,
) -> ResolutionRow | None:
    """The resolution in force for the span's caller at its time: the matching row
    with the latest ``first_seen`` not after the span's start (plus clock skew)."""
    best: ResolutionRow | None = None
    for r in records.get(span.caller_key or "", ()):
        if prompt is not None and r.prompt != prompt:
            continue
        if label is not None and r.label != label:
            continue
        if version_id is not None and r.version_id != version_id:
            continue
        if r.first_seen > span.at + CLOCK_SKEW:
            continue
        if best is None or r.first_seen > best.first_seen:
            best = r
    return best


def check_trace_id(text: str) -> str:
    value = text.strip().lower()
    if len(value) != 32 or any(c not in "0123456789abcdef" for c in value):
        raise InputError(f"{text[:40]!r} is not a trace id", hint="A trace id is 32 hex digits.")
    return value
