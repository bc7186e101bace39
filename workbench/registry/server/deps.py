"""Request dependencies: the service and the authenticated caller.

Credentials come as ``Authorization: Bearer TOKEN`` (the native clients) or HTTP Basic
with the token as the password (the Langfuse SDK sends ``public_key:secret_key``; the
public key is free text, e.g. the user name, and is not checked). The header is read
here and nowhere else, and is never logged.

Why two ways to authenticate: FastAPI runs every plain ``def`` dependency and
endpoint in its own worker-thread hop, and each hop is a hand-over of the GIL
between the event loop and a thread. The hot endpoints (``resolve``, push) take the
raw :data:`Token` and call :func:`as_actor`, which authenticates and does the work in
one hop; the rest use :data:`CurrentActor`. Both read the user afresh every request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)
from starlette.concurrency import run_in_threadpool

from workbench.registry.server.auth import Actor
from workbench.registry.server.service import RegistryService

_bearer = HTTPBearer(auto_error=False, description="the registry token")
_basic = HTTPBasic(auto_error=False, description="any user name; the registry token as password")

T = TypeVar("T")


async def get_service(request: Request) -> RegistryService:
    # async: a plain def would cost a worker-thread hop just to read an attribute
    service: RegistryService = request.app.state.service
    return service


Service = Annotated[RegistryService, Depends(get_service)]


async def presented_token(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> str:
    """The token the caller sent ("" for none); checked by ``RegistryService.authenticate``."""
    if bearer is not None:
        return bearer.credentials
    if basic is not None:
        return basic.password
    return ""


Token = Annotated[str, Depends(presented_token)]


def current_actor(request: Request, service: Service, token: Token) -> Actor:
    actor = service.authenticate(token)
    request.state.actor = actor.name  # for the access log: the name, never the token
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


async def as_actor(
    request: Request, service: RegistryService, token: str, work: Callable[[Actor], T]
) -> T:
    """Authenticate ``token`` and run ``work(actor)`` in one worker-thread hop."""

    def run() -> T:
        actor = service.authenticate(token)
        request.state.actor = actor.name
        return work(actor)

    return await run_in_threadpool(run)
