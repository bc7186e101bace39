"""Decoding OTLP/HTTP trace exports (protobuf and JSON) into the GenAI spans we keep.

The wire format is parsed by ``opentelemetry-proto``, the OpenTelemetry project's own
generated classes, never by hand. OTLP/JSON differs from protobuf's canonical JSON in
one way that matters here: trace and span ids are hex strings, not base64, so they
are rewritten before ``json_format`` reads the body. Unknown fields are ignored, as
the OTLP specification asks of receivers.

Only spans with at least one ``gen_ai.*`` attribute are kept. Of each, only the
figures listed in :class:`GenAISpan` are read; prompt text, messages, answers and any
other attribute are never looked at, so they cannot be stored.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from workbench.registry.errors import UndecodableBodyError, UnsupportedMediaTypeError

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

PROMPT_NAME_KEYS = (
    "workbench.prompt.name",
    "langfuse.observation.prompt.name",
    "gen_ai.prompt.name",
)
PROMPT_VERSION_KEYS = (
    "langfuse.observation.prompt.version",
    "workbench.prompt.version",
    "gen_ai.prompt.version",
)
LABEL_KEYS = ("workbench.prompt.label",)
CALLER_KEYS = ("workbench.caller_key", "langfuse.user.id", "user.id", "enduser.id")
COST_KEYS = ("workbench.cost_usd", "gen_ai.usage.cost")
TTFT_MS_KEYS = ("workbench.ttft_ms",)
FIRST_TOKEN_AT_KEY = "langfuse.observation.completion_start_time"


@dataclass(frozen=True)
class GenAISpan:
    """The figures of one GenAI span that the registry stores (and nothing else)."""

    trace_id: str
    span_id: str
    at: datetime
    latency_ms: float | None
    prompt: str | None
    version: int | None
    label: str | None
    provider: str | None
    request_model: str | None
    response_model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    ttft_ms: float | None
    error: str | None
    finish_reasons: tuple[str, ...]
    caller_key: str | None


@dataclass
class Decoded:
    spans: list[GenAISpan]
    received: int
    ignored: int
    rejected: int


def media_type(content_type: str | None) -> str:
    """The body's media type, or a 415 naming the two OTLP/HTTP accepts."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in (PROTOBUF, JSON):
        return kind
    raise UnsupportedMediaTypeError(
        f"the body is {kind or 'of no declared type'}, not OTLP",
        hint=f"Send OTLP/HTTP traces as {PROTOBUF} or {JSON} (Content-Type).",
    )


def inflate(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body without its Content-Encoding (gzip or none), never over ``limit`` bytes."""
    kind = (encoding or "identity").strip().lower()
    if kind == "identity":
        return body
    if kind != "gzip":
        raise UnsupportedMediaTypeError(
            f"the Content-Encoding {kind!r} is not supported", hint="Send gzip or no encoding."
        )
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise UndecodableBodyError(
            f"the gzip body cannot be decompressed ({exc})", hint="Send a valid gzip body."
        ) from None
    if len(out) > limit or inflater.unconsumed_tail:
        from workbench.registry.errors import PayloadTooLargeError

        raise PayloadTooLargeError(
            f"the decompressed body is over {limit} bytes",
            hint="Export smaller batches (BatchSpanProcessor max_export_batch_size).",
        )
    return out


def decode(body: bytes, kind: str) -> Decoded:
    """The GenAI spans of an ``ExportTraceServiceRequest``; a 400 for a body that is not one."""
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    if kind == PROTOBUF:
        try:
            request.ParseFromString(body)
        except (DecodeError, ValueError, RuntimeError) as exc:
            raise UndecodableBodyError(
                f"the body is not an OTLP ExportTraceServiceRequest in protobuf ({exc})",
                hint="Send what the OpenTelemetry OTLP/HTTP exporter sends.",
            ) from None
    else:
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("the body is not a JSON object")
            json_format.ParseDict(_hex_ids_to_base64(data), request, ignore_unknown_fields=True)
        except (ValueError, json_format.ParseError, TypeError, RecursionError) as exc:
            raise UndecodableBodyError(
                f"the body is not an OTLP/JSON ExportTraceServiceRequest ({exc})",
                hint="Send resourceSpans[].scopeSpans[].spans[] with hex traceId/spanId "
                "(the OTLP/JSON encoding).",
            ) from None
    return _gen_ai_spans(request)


def _hex_ids_to_base64(data: dict[str, Any]) -> dict[str, Any]:
    """OTLP/JSON's hex ids as protobuf JSON's base64 (in place; ``data`` is ours)."""
    for resource in _list(data.get("resourceSpans")):
        for scope in _list(resource.get("scopeSpans") if isinstance(resource, dict) else None):
            for span in _list(scope.get("spans") if isinstance(scope, dict) else None):
                if not isinstance(span, dict):
                    continue
                for field in ("traceId", "spanId", "parentSpanId"):
                    value = span.get(field)
                    if isinstance(value, str) and value:
                        try:
                            span[field] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
                        except ValueError:
                            raise ValueError(f"{field} {value[:40]!r} is not hex") from None
                for link in _list(span.get("links")):
                    if isinstance(link, dict):
                        for field in ("traceId", "spanId"):
                            value = link.get(field)
                            if isinstance(value, str) and value:
                                try:
                                    link[field] = base64.b64encode(bytes.fromhex(value)).decode()
                                except ValueError:
                                    raise ValueError(f"link {field} is not hex") from None
    return data


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _value(any_value: Any) -> object:
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return None  # nothing we read is a map
    return getattr(any_value, kind)


def _text(value: object, limit: int) -> str | None:
    if value is None or isinstance(value, list | bytes):
        return None
    text = str(value).replace("\x00", "")
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text[:limit] or None


def _first(attrs: dict[str, object], keys: tuple[str, ...]) -> object:
    for key in keys:
        if attrs.get(key) is not None:
            return attrs[key]
    return None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 2**31 else None
    if isinstance(value, float) and value.is_integer():
        return _int(int(value))
    if isinstance(value, str):
        text = value.strip().removeprefix("v")
        return _int(int(text)) if text.isdigit() else None
    return None


def _float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
        return number if number >= 0 and number < 1e15 else None
    if isinstance(value, str):
        try:
            return _float(float(value))
        except ValueError:
            return None
    return None


def _time(nanos: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=nanos // 1000)


def _gen_ai_spans(request: Any) -> Decoded:
    from opentelemetry.proto.trace.v1.trace_pb2 import Status

    out: list[GenAISpan] = []
    received = ignored = rejected = 0
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                received += 1
                attrs = {kv.key: _value(kv.value) for kv in span.attributes}
                if not any(key.startswith("gen_ai.") for key in attrs):
                    ignored += 1
                    continue
                if len(span.trace_id) != 16 or len(span.span_id) != 8 or not any(span.trace_id):
                    rejected += 1
                    continue
                out.append(_gen_ai_span(span, attrs, Status.STATUS_CODE_ERROR))
    return Decoded(spans=out, received=received, ignored=ignored, rejected=rejected)


def _gen_ai_span(span: Any, attrs: dict[str, object], error_code: int) -> GenAISpan:
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    at = _time(start) if start else datetime.now(UTC)
    latency = (end - start) / 1e6 if start and end >= start else None
    ttft = _float(_first(attrs, TTFT_MS_KEYS))
    first_token = attrs.get(FIRST_TOKEN_AT_KEY)
    if ttft is None and isinstance(first_token, str) and start:
        try:
            first = datetime.fromisoformat(first_token)
            if first.tzinfo is None:
                first = first.replace(tzinfo=UTC)
            delta = (first - at).total_seconds() * 1000
            ttft = delta if delta >= 0 else None
        except ValueError:
            ttft = None
    error = _text(attrs.get("error.type"), 200)
    if error is None and span.status.code == error_code:
        error = _text(span.status.message, 200) or "error"
    reasons = attrs.get("gen_ai.response.finish_reasons")
    finish = tuple(
        t for r in (reasons if isinstance(reasons, list) else [reasons]) if (t := _text(r, 40))
    )
    return GenAISpan(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        at=at,
        latency_ms=latency,
        prompt=_text(_first(attrs, PROMPT_NAME_KEYS), 200),
        version=_int(_first(attrs, PROMPT_VERSION_KEYS)),
        label=_text(_first(attrs, LABEL_KEYS), 64),
        provider=_text(_first(attrs, ("gen_ai.provider.name", "gen_ai.system")), 64),
        request_model=_text(attrs.get("gen_ai.request.model"), 200),
        response_model=_text(attrs.get("gen_ai.response.model"), 200),
        input_tokens=_int(
            _first(attrs, ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"))
        ),
        output_tokens=_int(
            _first(attrs, ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"))
        ),
        cost_usd=_float(_first(attrs, COST_KEYS)),
        ttft_ms=ttft,
        error=error,
        finish_reasons=finish[:10],
        caller_key=_text(_first(attrs, CALLER_KEYS), 200),
    )


def response_body(kind: str, rejected: int, message: str) -> bytes:
    """The ``ExportTraceServiceResponse`` in the request's encoding (partial success
    when some spans were rejected)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceResponse,
    )

    if kind == JSON:
        body: dict[str, Any] = {}
        if rejected or message:
            body["partialSuccess"] = {"rejectedSpans": str(rejected), "errorMessage": message}
        return json.dumps(body).encode("utf-8")
    response = ExportTraceServiceResponse()
    if rejected or message:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    data: bytes = response.SerializeToString()
    return data
