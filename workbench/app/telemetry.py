"""OpenTelemetry export of every model call (off by default).

With an OTLP/HTTP traces endpoint set (``Settings.otel_endpoint``, or the
``WORKBENCH_OTLP_ENDPOINT`` environment variable, which wins), each finished cell
becomes one span following the GenAI semantic conventions: ``chat {model}``, with
``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.usage.input_tokens``/``output_tokens``,
``gen_ai.response.finish_reasons``, ``error.type`` on failure; plus the prompt's name
and version (ours and the attributes Langfuse reads for prompt linkage) and the first
token's time (Langfuse's ``completion_start_time``). The span's start and end are
the call's own (end: when it finished; start: end minus its latency).

Never exported: the prompt's text, the variables, the answer, keys. Spans go through
the SDK's batch processor and are flushed when the run ends; an endpoint that cannot
be reached costs a log line, never the run. The SDK is imported only when export is on.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from workbench.core.runs import CellKey, CellResult, Run, RunSpec
from workbench.engine.runner import Engine, NullObserver, RunObserver
from workbench.providers.profiles import ProviderProfile

log = logging.getLogger(__name__)

ENDPOINT_ENV = "WORKBENCH_OTLP_ENDPOINT"
EXPORT_TIMEOUT_S = 2.0

PROVIDER_NAMES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "ollama": "ollama",
    "echo": "workbench.echo",
}
"""Our API families as ``gen_ai.provider.name`` (the conventions' well-known values
where there is one)."""


def endpoint(configured: str | None) -> str | None:
    """The OTLP/HTTP traces URL to export to, or None (export off)."""
    return os.environ.get(ENDPOINT_ENV) or configured or None


def span_attributes(
    cell: CellResult,
    prompt: str,
    version: str,
    profile: ProviderProfile | None,
) -> dict[str, Any]:
    """The span attributes of one call (what is exported, and all of it)."""
    family = profile.family if profile is not None else ""
    answered = cell.answered_by or cell.key.model
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": PROVIDER_NAMES.get(family, family or "unknown"),
        "gen_ai.request.model": cell.key.model.model,
        "gen_ai.response.model": answered.model,
        "workbench.prompt.name": prompt,
        "workbench.prompt.version": version,
        "workbench.profile": cell.key.model.profile,
        "workbench.case_index": cell.key.case_index,
        "workbench.cached": cell.cached,
        "workbench.retries": len(cell.retries),
        "workbench.call.kind": cell.kind,
        "langfuse.observation.prompt.name": prompt,
    }
    number = version[1:] if version.startswith("v") and version[1:].isdigit() else None
    if number is not None:
        attrs["langfuse.observation.prompt.version"] = int(number)
    if cell.input_tokens is not None:
        attrs["gen_ai.usage.input_tokens"] = cell.input_tokens
    if cell.output_tokens is not None:
        attrs["gen_ai.usage.output_tokens"] = cell.output_tokens
    if cell.finish_reason:
        attrs["gen_ai.response.finish_reasons"] = [cell.finish_reason]
    if cell.cost_usd is not None:
        attrs["workbench.cost_usd"] = cell.cost_usd
    if cell.ttft_ms is not None:
        attrs["workbench.ttft_ms"] = cell.ttft_ms
        if cell.latency_ms is not None:
            start = cell.finished_at - timedelta(milliseconds=cell.latency_ms)
            first = start + timedelta(milliseconds=cell.ttft_ms)
            attrs["langfuse.observation.completion_start_time"] = first.isoformat()
    if cell.error_kind:
        attrs["error.type"] = cell.error_kind
    return attrs


class SpanObserver:
    """Passes every event on to ``inner`` and exports each finished cell as a span.
    Call :meth:`close` when the run ends (flushes the batch)."""

    def __init__(
        self,
        url: str,
        spec: RunSpec,
        versions: Mapping[uuid.UUID, str],
        profiles: Mapping[str, ProviderProfile],
        inner: RunObserver | None = None,
    ) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from workbench import __version__

        self.inner = inner or NullObserver()
        self.spec = spec
        self.versions = dict(versions)
        self.profiles = dict(profiles)
        resource = Resource.create(
            {"service.name": "prompt-workbench", "service.version": __version__}
        )
        self.provider = TracerProvider(resource=resource)
        # A short timeout: an endpoint that is down delays the end of a run by ~2 s.
        exporter = OTLPSpanExporter(endpoint=url, timeout=EXPORT_TIMEOUT_S)
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("workbench.engine", __version__)

    def on_delta(self, key: CellKey, text: str) -> None:
        self.inner.on_delta(key, text)

    def on_cell(self, cell: CellResult, done: int, total: int, spent_usd: float) -> None:
        self.inner.on_cell(cell, done, total, spent_usd)
        try:
            self._span(cell)
        except Exception as exc:  # telemetry never stops a run
            log.warning("OpenTelemetry span not made: %s", exc)

    def on_grading_call(self, call: CellResult) -> None:
        """A rubric's grading call is a model call too: its own span, marked so."""
        try:
            self._span(call)
        except Exception as exc:  # telemetry never stops a run
            log.warning("OpenTelemetry span not made: %s", exc)

    def _span(self, cell: CellResult) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        version = self.versions.get(cell.key.version_id, str(cell.key.version_id)[:8])
        attrs = span_attributes(
            cell, self.spec.prompt, version, self.profiles.get(cell.key.model.profile)
        )
        end_ns = int(cell.finished_at.timestamp() * 1e9)
        start_ns = end_ns - int((cell.latency_ms or 0.0) * 1e6)
        span = self.tracer.start_span(
            f"chat {cell.key.model.model}",
            kind=SpanKind.CLIENT,
            attributes=attrs,
            start_time=start_ns,
        )
        if cell.error_kind:
            span.set_status(Status(StatusCode.ERROR, cell.error_kind))
        span.end(end_time=end_ns)

    def close(self) -> None:
        try:
            self.provider.force_flush(timeout_millis=int(EXPORT_TIMEOUT_S * 1000))
        finally:
            self.provider.shutdown()


def run_with_telemetry(
    engine: Engine,
    spec: RunSpec,
    versions: Mapping[uuid.UUID, str],
    observer: RunObserver | None,
    configured: str | None,
) -> Run:
    """:func:`workbench.engine.runner.run_sync`, exporting each call as a span when an
    endpoint is set (flushed at the end, Ctrl+C included)."""
    from workbench.engine.runner import run_sync

    url = endpoint(configured)
    if url is None:
        return run_sync(engine, spec, observer)
    spans = SpanObserver(url, spec, versions, engine.profiles, observer)
    try:
        return run_sync(engine, spec, spans)
    finally:
        spans.close()
