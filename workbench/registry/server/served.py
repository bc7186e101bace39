"""'What served this call?': the stored calls of a trace, or of an app's caller
around a time, and the resolution on record for them, with the versions' model
parameters."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.core.errors import InputError, NotFoundError
from workbench.core.models import PromptContent
from workbench.registry.server.db import Database
from workbench.registry.server.span_linking import CLOCK_SKEW
from workbench.registry.server.tables import (
    ResolutionRow,
    SpanRow,
    VersionRow,
)
from workbench.registry.telemetry_schemas import (
    Resolution,
    ServedAnswer,
    ServedCall,
)

MAX_SERVED = 50


def what_served(
    db: Database,
    *,
    trace_id: str | None = None,
    app: str | None = None,
    key: str | None = None,
    at: datetime | None = None,
) -> ServedAnswer:
    """The calls of a trace, or of an app's caller around a time, and the resolution
    in force for them."""
    with db.reading() as session:
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
        resolution = _resolution_at(session, app, key, at, spans)
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


def check_trace_id(text: str) -> str:
    value = text.strip().lower()
    if len(value) != 32 or any(c not in "0123456789abcdef" for c in value):
        raise InputError(f"{text[:40]!r} is not a trace id", hint="A trace id is 32 hex digits.")
    return value
