"""Test suites and evidence policies under ``/api/v1`` (thin handlers over
:class:`~workbench.registry.server.suites.SuiteService`). Included before the native
router, whose ``/prompts/{name:path}`` would otherwise catch ``.../suite``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from workbench.registry.errors import PermissionDeniedError
from workbench.registry.schemas import HASH_PATTERN, FolderPolicy, Suite, SuitePush
from workbench.registry.server.auth import Actor
from workbench.registry.server.deps import CurrentActor, Service
from workbench.registry.server.openapi import PromptName, errors

router = APIRouter(prefix="/api/v1", tags=["suites"], responses=errors(401, 422))


def _not_an_app(actor: Actor) -> None:
    if not actor.at_least("author"):
        raise PermissionDeniedError(
            f"{actor.name} has an app token; suites and policies need the 'author' role",
            hint="App tokens read prompts (resolve, the Langfuse API) and send telemetry.",
        )


@router.put(
    "/prompts/{name:path}/suite",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": Suite, "description": "already current"}, **errors(403, 404, 409)},
)
def push_suite(
    name: PromptName, push: SuitePush, actor: CurrentActor, service: Service, response: Response
) -> Suite:
    """Make ``push`` the prompt's current suite if it still is at ``parent_hash``."""
    suite, created = service.suites.push_suite(actor.name, actor.role, name, push)
    if not created:
        response.status_code = status.HTTP_200_OK
    return suite


@router.get("/prompts/{name:path}/suite", responses=errors(403, 404))
def get_suite(
    name: PromptName,
    actor: CurrentActor,
    service: Service,
    hash: Annotated[str | None, Query(pattern=HASH_PATTERN)] = None,
) -> Suite:
    """The prompt's current suite, or the suite ``hash``."""
    _not_an_app(actor)
    return service.suites.suite(name, hash)


@router.get("/prompts/{name:path}/policy", responses=errors(403, 404))
def get_policy(name: PromptName, actor: CurrentActor, service: Service) -> FolderPolicy:
    """The evidence policy in force for the prompt (empty when none is set)."""
    _not_an_app(actor)
    return service.suites.policy(name)


@router.get("/policies", responses=errors(403))
def list_policies(actor: CurrentActor, service: Service) -> list[FolderPolicy]:
    _not_an_app(actor)
    return service.suites.policies()
