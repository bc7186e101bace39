"""Request dependencies: the service and the authenticated caller.

Credentials come as ``Authorization: Bearer TOKEN`` (the native clients) or HTTP Basic
with the token as the password (the Langfuse SDK sends ``public_key:secret_key``; the
public key is free text, e.g. the user name, and is not checked). The header is read
here and nowhere else, and is never logged.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)

from workbench.registry.server.service import Actor, RegistryService

_bearer = HTTPBearer(auto_error=False, description="the registry token")
_basic = HTTPBasic(auto_error=False, description="any user name; the registry token as password")


def get_service(request: Request) -> RegistryService:
    service: RegistryService = request.app.state.service
    return service


Service = Annotated[RegistryService, Depends(get_service)]


def current_actor(
    request: Request,
    service: Service,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> Actor:
    token = ""
    if bearer is not None:
        token = bearer.credentials
    elif basic is not None:
        token = basic.password
    actor = service.authenticate(token)
    request.state.actor = actor.name  # for the access log: the name, never the token
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]
