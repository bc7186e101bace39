"""Linking production spans to the versions that served them (the rules in
:mod:`.telemetry`'s docstring): by their prompt attributes, else by the resolution on
record for the span's app and caller key at its time."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.registry.server.otlp import GenAISpan
from workbench.registry.server.tables import (
    LabelRow,
    PromptRow,
    ResolutionRow,
    VersionRow,
)

CLOCK_SKEW = timedelta(seconds=30)
"""A span may start this much before the registry's record of its resolution (the
app's clock and the registry's differ)."""


class LinkedSpan:
    """A decoded span and what it is linked to."""

    __slots__ = ("label", "linked_by", "number", "prompt", "span", "version_id")

    def __init__(self, span: GenAISpan) -> None:
        self.span = span
        self.prompt: str | None = None
        self.number: int | None = None
        self.version_id: uuid.UUID | None = None
        self.label: str | None = span.label
        self.linked_by: str | None = None


def link_spans(
    session: Session,
    app: str,
    items: list[LinkedSpan],
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
            select(PromptRow.name, LabelRow.name, LabelRow.version_id, LabelRow.canary_version_id)
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
                found = record_at(records, span, prompt=span.prompt, version_id=vid)
                if found is not None:
                    item.label = found.label
                elif len(serving.get((span.prompt, vid), [])) == 1:
                    item.label = serving[(span.prompt, vid)][0]
            continue
        if span.caller_key is None and span.prompt is None:
            continue  # nothing to go by
        found = record_at(records, span, prompt=span.prompt, label=span.label)
        if found is not None:
            item.prompt, item.number = found.prompt, found.version_number
            item.version_id, item.label = found.version_id, found.label
            item.linked_by = "resolution"
        elif span.prompt:
            item.prompt = span.prompt  # the prompt is known, its version is not
    return unknown


def span_row(app: str, item: LinkedSpan, now: datetime) -> dict[str, Any]:
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


def distinct_spans(spans: list[GenAISpan]) -> list[GenAISpan]:
    """The spans of a request, each (trace id, span id) once."""
    seen: set[tuple[str, str]] = set()
    out = []
    for span in spans:
        ident = (span.trace_id, span.span_id)
        if ident not in seen:
            seen.add(ident)
            out.append(span)
    return out


def record_at(
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
