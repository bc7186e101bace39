"""The native API under ``/api/v1``: thin handlers over :class:`RegistryService`."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, ValidationError

from workbench.core.models import PromptVersion
from workbench.registry.errors import PermissionDeniedError
from workbench.registry.schemas import (
    MAX_PAGE,
    AuditPage,
    AuditReport,
    ChangePage,
    LabelMove,
    LabelState,
    PromptInfo,
    PushResult,
    Resolved,
    Review,
    ReviewIn,
    VersionPush,
    WhoAmI,
    check_text,
)
from workbench.registry.server.auth import Actor
from workbench.registry.server.deps import CurrentActor, Service, Token, as_actor
from workbench.registry.server.openapi import MAX_SQL_INT, LabelName, PromptName, errors
from workbench.registry.server.resolve import ResolvedBody

router = APIRouter(prefix="/api/v1", tags=["registry"], responses=errors(401, 422))

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Cursor = Annotated[int, Query(ge=0, le=MAX_SQL_INT)]
TextRule = AfterValidator(check_text)
"""Free-text query parameters obey the same text rule as body strings."""


@router.get("/whoami")
def whoami(actor: CurrentActor) -> WhoAmI:
    return WhoAmI(name=actor.name, role=actor.role)


PUSH_BODY_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/VersionPush"}}},
    }
}
"""The push body as documented; its schema component is added by ``create_app``."""


def parse_push(raw: bytes) -> VersionPush:
    """The push body, validated only after the caller is authenticated (issue 12, item
    13: a bad body with a missing or revoked token is 401, not 422). Errors have the
    same shape FastAPI gives a declared body."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        pos = getattr(err, "pos", 0)
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": str(err)},
                }
            ]
        ) from None
    try:
        return VersionPush.model_validate(data)
    except ValidationError as err:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in err.errors(include_url=False)]
        raise RequestValidationError(errors) from None


@router.post(
    "/versions",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": PushResult, "description": "already pushed (idempotent retry)"},
        **errors(403, 404, 409, 413),
    },
    openapi_extra=PUSH_BODY_SCHEMA,
)
async def push_version(
    token: Token, service: Service, request: Request, response: Response
) -> PushResult:
    raw = await request.body()
    result = await as_actor(
        request, service, token, lambda actor: service.push_version(actor, parse_push(raw))
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return result


@router.get("/versions/{version_id}", responses=errors(403, 404))
def get_version(version_id: uuid.UUID, actor: CurrentActor, service: Service) -> PromptVersion:
    version = service.version(version_id)
    actor.check_read(version.prompt)
    return version


@router.get("/versions/{version_id}/reviews", responses=errors(403, 404))
def list_reviews(version_id: uuid.UUID, actor: CurrentActor, service: Service) -> list[Review]:
    if actor.prompts is not None:
        actor.check_read(service.version(version_id).prompt)
    return service.reviews(version_id)


@router.post(
    "/versions/{version_id}/reviews",
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 404, 409, 413),
)
def add_review(
    version_id: uuid.UUID, review: ReviewIn, actor: CurrentActor, service: Service
) -> Review:
    return service.review(actor, version_id, review)


@router.get("/prompts")
def list_prompts(
    actor: CurrentActor,
    service: Service,
    offset: Annotated[int, Query(ge=0, le=MAX_SQL_INT)] = 0,
    limit: Limit = 200,
) -> list[PromptInfo]:
    """Every prompt; for a scoped app token, the ones in its scope."""
    return service.prompts(offset=offset, limit=limit, scope=actor.prompts)


@router.get("/prompts/{name:path}/versions", responses=errors(403, 404))
def list_versions(
    name: PromptName,
    actor: CurrentActor,
    service: Service,
    after: Annotated[int, Query(ge=0, le=MAX_SQL_INT, description="version number")] = 0,
    limit: Limit = 200,
) -> list[PromptVersion]:
    actor.check_read(name)
    return service.versions(name, after=after, limit=limit)


@router.get(
    "/prompts/{name:path}/resolve",
    responses={
        200: {"model": Resolved, "description": "the version the label serves"},
        304: {"description": "not modified since the ETag given in If-None-Match"},
        **errors(403, 404),
    },
)
async def resolve(
    name: PromptName,
    token: Token,
    service: Service,
    request: Request,
    label: Annotated[str, Query(max_length=64)] = "production",
    key: Annotated[
        str | None,
        Query(max_length=200, description="caller key for a canary split"),
        TextRule,
    ] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The version a label serves (a ``Resolved``), with an ETag so pollers pay almost
    nothing. The hot read path: one worker-thread hop for authentication and lookup."""

    def work(actor: Actor) -> ResolvedBody:
        actor.check_read(name)  # an app token scoped to other prompts: 403
        return service.resolve_body(name, label, key, app=actor.name)

    answer = await as_actor(request, service, token, work)
    headers = {"ETag": answer.etag, "Cache-Control": "no-cache"}
    if if_none_match is not None and answer.etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(content=answer.body, media_type="application/json", headers=headers)


@router.get("/prompts/{name:path}/labels/{label}", responses=errors(403, 404))
def get_label(
    name: PromptName, label: LabelName, actor: CurrentActor, service: Service
) -> LabelState:
    actor.check_read(name)
    return service.label(name, label)


@router.put("/prompts/{name:path}/labels/{label}", responses=errors(403, 404, 409, 413))
def move_label(
    name: PromptName, label: LabelName, move: LabelMove, actor: CurrentActor, service: Service
) -> LabelState:
    """Compare-and-swap; 409 with the actual target when ``expected`` is stale."""
    return service.move_label(actor, name, label, move)


@router.get("/prompts/{name:path}", responses=errors(403, 404))
def get_prompt(name: PromptName, actor: CurrentActor, service: Service) -> PromptInfo:
    actor.check_read(name)
    return service.prompt_info(name)


def _not_an_app(actor: Actor, what: str) -> None:
    if not actor.at_least("author"):
        raise PermissionDeniedError(
            f"{actor.name} has an app token; {what} needs the 'author' role or higher",
            hint="App tokens read prompts (resolve, the Langfuse API) and send telemetry.",
        )


@router.get("/changes", responses=errors(403))
def changes(
    actor: CurrentActor, service: Service, since: Cursor = 0, limit: Limit = 500
) -> ChangePage:
    """Everything after ``since``, in order; follow ``next_cursor`` while ``has_more``."""
    _not_an_app(actor, "reading the change feed")
    return service.changes(since, limit)


@router.get("/audit", responses=errors(403))
def audit(
    actor: CurrentActor,
    service: Service,
    since: Cursor = 0,
    limit: Limit = 500,
    subject: Annotated[str | None, Query(max_length=300), TextRule] = None,
) -> AuditPage:
    _not_an_app(actor, "reading the audit log")
    return service.audit(since, limit, subject)


@router.get("/audit/verify", responses=errors(403))
def audit_verify(actor: CurrentActor, service: Service) -> AuditReport:
    if not actor.at_least("admin"):
        raise PermissionDeniedError(
            "verifying the audit chain needs the 'admin' role", hint="Ask a registry admin."
        )
    return service.verify_audit()
