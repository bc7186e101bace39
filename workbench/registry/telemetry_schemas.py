"""The wire contract of production telemetry: what an OTLP ingest did, per-version
stats, and "what served this call?" (resolutions and stored calls)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from workbench.registry.schemas import Served, WireModel


class IngestResult(WireModel):
    """What one OTLP request did (the OTLP answer carries the rejected count too)."""

    received: int
    """Spans in the request."""
    stored: int
    """GenAI spans kept."""
    ignored: int
    """Spans without gen_ai.* attributes (not ours to keep)."""
    duplicates: int
    """Spans already stored (an exporter's retry)."""
    rejected: int
    """Spans that cannot be stored (a bad trace or span id)."""
    unlinked: int
    """Stored spans not linked to a version (unknown prompt, no resolution on record)."""
    halted: tuple[str, ...] = ()
    """Canaries halted by this request, as 'prompt@label'."""


class AppStats(WireModel):
    app: str
    calls: int
    errors: int
    cost_usd: float


class VersionStats(WireModel):
    """Production figures of one version under one label, over the window."""

    version: int | None
    """The version number; None for spans not linked to a version."""
    label: str | None
    calls: int
    errors: int
    error_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    """Percentiles from the rollups' fixed log-spaced buckets (within ~12%)."""
    ttft_p50_ms: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    """Sum over priced calls; ``unpriced`` calls are not in it."""
    unpriced: int
    cost_per_day_usd: float
    cost_per_call_usd: float | None
    by_app: tuple[AppStats, ...]


class ProdStats(WireModel):
    prompt: str
    since: datetime
    until: datetime
    rows: tuple[VersionStats, ...]


class Resolution(WireModel):
    """What the registry served one caller: one row per (app, key, prompt, label,
    version), first and last seen."""

    app: str
    key: str | None
    prompt: str
    label: str
    version_id: uuid.UUID
    version: int
    served: Served
    first_seen: datetime
    last_seen: datetime


class ServedCall(WireModel):
    """One production call as stored, with the version it is linked to."""

    trace_id: str
    span_id: str
    app: str
    at: datetime
    prompt: str | None
    version: int | None
    version_id: uuid.UUID | None
    label: str | None
    linked_by: Literal["attribute", "resolution"] | None
    provider: str | None
    request_model: str | None
    response_model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    latency_ms: float | None
    ttft_ms: float | None
    error: str | None
    finish_reasons: tuple[str, ...]
    caller_key: str | None
    parameters: dict[str, object] | None
    """The version's model defaults (model, temperature, max tokens, ...)."""


class ServedAnswer(WireModel):
    """'What served this?': the calls found and the resolution in force."""

    calls: tuple[ServedCall, ...]
    resolution: Resolution | None
    parameters: dict[str, object] | None
    """The resolved version's model defaults (also on each call)."""
