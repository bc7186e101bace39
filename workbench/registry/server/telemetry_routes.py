"""Production telemetry over HTTP: the OTLP/HTTP traces receiver, per-version stats and
"what served this?".

The receiver answers at ``/v1/traces`` (OTLP/HTTP's own path, so an exporter's
``endpoint`` is ``http://REGISTRY/v1/traces``) and at ``/api/v1/traces``. The caller
authenticates with a registry token (``Authorization: Bearer``, or HTTP Basic like the
Langfuse SDK), before the body is looked at; the token's user is the app the spans
are stored under.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from workbench.registry.errors import PermissionDeniedError
from workbench.registry.schemas import check_text
from workbench.registry.server import otlp
from workbench.registry.server.auth import Actor
from workbench.registry.server.deps import CurrentActor, Service, Token, as_actor
from workbench.registry.server.openapi import PromptName, errors
from workbench.registry.server.served import check_trace_id
from workbench.registry.telemetry_schemas import ProdStats, ServedAnswer

router = APIRouter(tags=["telemetry"], responses=errors(401, 422))

OTLP_BODY = {
    "requestBody": {
        "required": True,
        "description": "an OTLP ExportTraceServiceRequest",
        "content": {
            otlp.PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
            otlp.JSON: {"schema": {"type": "object"}},
        },
    }
}


async def _export(token: str, service: Service, request: Request) -> Response:
    raw = await request.body()
    content_type = request.headers.get("content-type")
    encoding = request.headers.get("content-encoding")

    def work(actor: Actor) -> tuple[str, bytes]:
        kind = otlp.media_type(content_type)
        body = otlp.inflate(raw, encoding, service.settings.max_body_bytes)
        result = service.telemetry.ingest(actor.name, otlp.decode(body, kind), actor.may_read)
        notes = []
        if result.rejected:
            notes.append(f"{result.rejected} span(s) without valid trace/span ids")
        if result.unlinked:
            notes.append(f"{result.unlinked} span(s) not linked to a prompt version")
        return kind, otlp.response_body(kind, result.rejected, "; ".join(notes))

    kind, body = await as_actor(request, service, token, work)
    return Response(content=body, media_type=kind)


@router.post(
    "/v1/traces",
    responses={200: {"description": "ExportTraceServiceResponse"}, **errors(400, 413, 415)},
    openapi_extra=OTLP_BODY,
)
async def export_traces(token: Token, service: Service, request: Request) -> Response:
    """OTLP/HTTP traces: GenAI spans are stored, linked to the version they used."""
    return await _export(token, service, request)


@router.post(
    "/api/v1/traces",
    responses={200: {"description": "ExportTraceServiceResponse"}, **errors(400, 413, 415)},
    openapi_extra=OTLP_BODY,
)
async def export_traces_api(token: Token, service: Service, request: Request) -> Response:
    """The same receiver under the API prefix."""
    return await _export(token, service, request)


def _utc(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@router.get("/api/v1/prompts/{name:path}/stats", responses=errors(403, 404))
def prompt_stats(
    name: PromptName,
    actor: CurrentActor,
    service: Service,
    since: Annotated[datetime | None, Query(description="start (UTC); default: 24 h ago")] = None,
    until: Annotated[datetime | None, Query(description="end (UTC); default: now")] = None,
) -> ProdStats:
    """Production figures per version and label over the window, from hourly rollups."""
    actor.check_read(name)
    end = _utc(until) or datetime.now(UTC)
    start = _utc(since) or end - timedelta(hours=24)
    return service.telemetry.stats(name, start, end)


@router.get("/api/v1/served", responses=errors(403, 404))
def served(
    actor: CurrentActor,
    service: Service,
    trace_id: Annotated[str | None, Query(max_length=64)] = None,
    app: Annotated[str | None, Query(max_length=64)] = None,
    key: Annotated[str | None, Query(max_length=200)] = None,
    at: datetime | None = None,
) -> ServedAnswer:
    """What served a request: by trace id, or by app, caller key and time."""
    if not actor.at_least("author"):
        raise PermissionDeniedError(
            f"{actor.name} has an app token; looking up served calls needs 'author' or higher",
            hint="Ask with a person's token.",
        )
    for value in (app, key):
        check_text(value)
    return service.telemetry.served(
        trace_id=check_trace_id(trace_id) if trace_id is not None else None,
        app=app,
        key=key,
        at=_utc(at),
    )
