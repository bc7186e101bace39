"""Hourly rollups of production spans: built from a request's spans, added by upsert,
read back summed (per version, label, app) for dashboards and canary guard rails.

A rollup row holds sums and two fixed-bucket histograms (latency and TTFT; see
:mod:`histogram`), so any set of rows adds up to the figures of their union: the
p95 of a week is computed from 168 rows per key, never from the raw spans.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench.registry.server.histogram import BUCKETS, bucket_of, percentile
from workbench.registry.server.otlp import GenAISpan
from workbench.registry.server.tables import (
    LATENCY_BUCKETS,
    ROLLUP_KEY,
    ROLLUP_SUMS,
    TTFT_BUCKETS,
    span_rollups,
)
from workbench.registry.server.upsert import upsert

FLOAT_SUMS = frozenset({"latency_sum_ms", "ttft_sum_ms", "cost_usd"})
RollupKey = tuple[str, int, str, str, datetime]
"""(prompt or '', version number or 0, label or '', app, hour)."""


def hour_of(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


@dataclass
class Figures:
    """Summed rollup counters (one key's, or any union of keys')."""

    calls: int = 0
    errors: int = 0
    latency_count: int = 0
    latency_sum_ms: float = 0.0
    ttft_count: int = 0
    ttft_sum_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    priced: int = 0
    unpriced: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    ttft: list[int] = field(default_factory=lambda: [0] * BUCKETS)

    def add_span(self, span: GenAISpan) -> None:
        self.calls += 1
        self.errors += 1 if span.error else 0
        if span.latency_ms is not None:
            self.latency_count += 1
            self.latency_sum_ms += span.latency_ms
            self.latency[bucket_of(span.latency_ms)] += 1
        if span.ttft_ms is not None:
            self.ttft_count += 1
            self.ttft_sum_ms += span.ttft_ms
            self.ttft[bucket_of(span.ttft_ms)] += 1
        self.input_tokens += span.input_tokens or 0
        self.output_tokens += span.output_tokens or 0
        if span.cost_usd is None:
            self.unpriced += 1
        else:
            self.priced += 1
            self.cost_usd += span.cost_usd

    def add(self, other: Figures) -> None:
        for name in ROLLUP_SUMS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.latency = [a + b for a, b in zip(self.latency, other.latency, strict=True)]
        self.ttft = [a + b for a, b in zip(self.ttft, other.ttft, strict=True)]

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.calls if self.calls else None

    def p(self, q: float) -> float | None:
        return percentile(self.latency, q)

    def ttft_p(self, q: float) -> float | None:
        return percentile(self.ttft, q)

    @property
    def cost_per_call(self) -> float | None:
        return self.cost_usd / self.priced if self.priced else None

    def row(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: getattr(self, name) for name in ROLLUP_SUMS}
        data.update(zip(LATENCY_BUCKETS, self.latency, strict=True))
        data.update(zip(TTFT_BUCKETS, self.ttft, strict=True))
        return data

    @classmethod
    def from_row(cls, row: Any) -> Figures:
        m = row._mapping  # PostgreSQL sums bigints as numeric: cast back
        sums: dict[str, Any] = {
            name: (float if name in FLOAT_SUMS else int)(m[name] or 0) for name in ROLLUP_SUMS
        }
        return cls(
            **sums,
            latency=[int(m[c] or 0) for c in LATENCY_BUCKETS],
            ttft=[int(m[c] or 0) for c in TTFT_BUCKETS],
        )


def add_rollups(session: Session, grouped: dict[RollupKey, Figures]) -> None:
    """Add each key's figures to its rollup row (created when missing), in key order so
    concurrent requests take row locks in the same order."""
    rows = []
    for key in sorted(grouped):
        rows.append({**dict(zip(ROLLUP_KEY, key, strict=True)), **grouped[key].row()})
    table = span_rollups
    counters = (*ROLLUP_SUMS, *LATENCY_BUCKETS, *TTFT_BUCKETS)
    upsert(
        session,
        table,
        rows,
        ROLLUP_KEY,
        lambda excluded: {c: table.c[c] + excluded[c] for c in counters},
    )


_SUMMED = [
    func.sum(span_rollups.c[c]).label(c) for c in (*ROLLUP_SUMS, *LATENCY_BUCKETS, *TTFT_BUCKETS)
]


def summed(
    session: Session,
    prompt: str,
    since: datetime,
    until: datetime | None = None,
    *,
    versions: Sequence[int] | None = None,
    label: str | None = None,
) -> list[tuple[int, str, str, datetime, Figures]]:
    """``(version, label, app, first hour, figures)`` per (version, label, app) of
    ``prompt`` over the hours from ``since``'s to before ``until``."""
    c = span_rollups.c
    stmt = (
        select(c.version_number, c.label, c.app, func.min(c.hour).label("first_hour"), *_SUMMED)
        .where(c.prompt == prompt, c.hour >= hour_of(since))
        .group_by(c.version_number, c.label, c.app)
    )
    if until is not None:
        stmt = stmt.where(c.hour < until)
    if versions is not None:
        stmt = stmt.where(c.version_number.in_(list(versions)))
    if label is not None:
        stmt = stmt.where(c.label == label)
    out = []
    for row in session.execute(stmt):
        out.append((row.version_number, row.label, row.app, row.first_hour, Figures.from_row(row)))
    return out


def total(rows: Iterable[Figures]) -> Figures:
    out = Figures()
    for f in rows:
        out.add(f)
    return out
