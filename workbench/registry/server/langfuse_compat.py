"""A Langfuse-compatible read API, so apps using ``Langfuse().get_prompt(name)`` read
published prompts from this registry unchanged.

Mapping: a version with exactly one message whose role is ``user`` is a Langfuse
``text`` prompt (its template is the string); anything else is a ``chat`` prompt
(``[{role, content}]``). Templates pass through as they are: Langfuse's ``{{ name }}``
placeholders are the Jinja syntax the workbench uses. ``config`` carries the model
defaults. Without ``label`` and ``version`` the SDK expects ``production``; ``latest``
is, as in Langfuse, the newest version (and is listed among its labels). A canary
split has no caller key here, so this API serves the label's primary version.

Honest compatibility: a version whose templates use Jinja beyond plain ``{{ name }}``
(filters, ``{% if %}``, ...) would compile differently in the SDK, which does not run
Jinja; it is answered with 409 ``LangfuseIncompatibleError`` saying why, never served
raw (see :mod:`workbench.core.langfuse`).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from workbench.core.errors import InputError, NotFoundError
from workbench.core.langfuse import langfuse_problem
from workbench.core.models import PromptVersion
from workbench.registry.errors import LangfuseIncompatibleError
from workbench.registry.schemas import ErrorBody
from workbench.registry.server.deps import CurrentActor, Service
from workbench.registry.server.openapi import MAX_SQL_INT, PromptName, errors

router = APIRouter(
    prefix="/api/public/v2", tags=["langfuse-compatible"], responses=errors(401, 422)
)


class _Camel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class LangfuseChatMessage(_Camel):
    role: str
    content: str


class LangfusePrompt(_Camel):
    id: str
    name: str
    version: int
    type: Literal["text", "chat"]
    prompt: str | list[LangfuseChatMessage]
    config: dict[str, Any]
    labels: list[str]
    tags: list[str]
    commit_message: str | None = Field(alias="commitMessage")
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")
    created_by: str = Field(alias="createdBy")
    project_id: str = Field(alias="projectId")


class LangfusePromptMeta(_Camel):
    name: str
    type: Literal["text", "chat"]
    versions: list[int]
    labels: list[str]
    tags: list[str]
    last_updated_at: datetime = Field(alias="lastUpdatedAt")
    last_config: dict[str, Any] = Field(alias="lastConfig")


class LangfuseMeta(_Camel):
    page: int
    limit: int
    total_items: int = Field(alias="totalItems")
    total_pages: int = Field(alias="totalPages")


class LangfusePromptList(_Camel):
    data: list[LangfusePromptMeta]
    meta: LangfuseMeta


PROJECT_ID = "workbench-registry"
LATEST = "latest"
"""Langfuse's built-in label: always the newest version; never stored."""


def _kind(version: PromptVersion) -> Literal["text", "chat"]:
    messages = version.content.messages
    return "text" if len(messages) == 1 and messages[0].role == "user" else "chat"


def to_langfuse(version: PromptVersion, labels: list[str]) -> LangfusePrompt:
    kind = _kind(version)
    prompt: str | list[LangfuseChatMessage]
    if kind == "text":
        prompt = version.content.messages[0].template
    else:
        prompt = [
            LangfuseChatMessage(role=m.role, content=m.template) for m in version.content.messages
        ]
    assert version.number is not None
    return LangfusePrompt(
        id=str(version.id),
        name=version.prompt,
        version=version.number,
        type=kind,
        prompt=prompt,
        config=version.content.model.canonical(),
        labels=labels,
        tags=list(version.content.tags),
        commit_message=version.message or None,
        created_at=version.created_at,
        updated_at=version.created_at,
        created_by=version.author,
        project_id=PROJECT_ID,
    )


def _servable(version: PromptVersion) -> PromptVersion:
    problem = langfuse_problem(version.content)
    if problem is not None:
        raise LangfuseIncompatibleError(
            f"{version.prompt} v{version.number} cannot be served to the Langfuse SDK: {problem}",
            hint="Publish a version that uses only '{{ name }}' placeholders to this label, "
            "or read this one with the native API (/api/v1/prompts/NAME/resolve).",
        )
    return version


@router.get(
    "/prompts/{name:path}",
    responses={
        **errors(404),
        409: {
            "model": ErrorBody,
            "description": "the version uses Jinja the Langfuse SDK would not compile",
        },
    },
)
def get_prompt(
    name: PromptName,
    actor: CurrentActor,
    service: Service,
    label: Annotated[str | None, Query(max_length=64)] = None,
    version: Annotated[int | None, Query(ge=1, le=MAX_SQL_INT)] = None,
) -> LangfusePrompt:
    if label is not None and version is not None:
        raise InputError("give either 'label' or 'version', not both", hint="Drop one of the two.")
    actor.check_read(name)
    newest = service.prompt_info(name).latest_number
    if version is not None or label == LATEST:
        number = version if version is not None else newest
        if number is None:
            raise NotFoundError(f"{name} has no versions yet", hint="Push a version first.")
        found, labels = service.version_by_number(name, number)
    else:
        resolved = service.resolve(name, label or "production")
        service.note_resolved(actor.name, resolved)  # for linking the app's spans
        found = resolved.version
        labels = service.labels_of_version(found.id)
    if found.number == newest and LATEST not in labels:
        labels = [*labels, LATEST]
    return to_langfuse(_servable(found), labels)


@router.get("/prompts")
def list_prompts(
    actor: CurrentActor,
    service: Service,
    page: Annotated[int, Query(ge=1, le=2**20)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> LangfusePromptList:
    total = service.prompt_count(actor.prompts)
    infos = service.prompts(offset=(page - 1) * limit, limit=limit, scope=actor.prompts)
    data: list[LangfusePromptMeta] = []
    for info in infos:
        latest, _ = service.version_by_number(info.name, info.versions)
        data.append(
            LangfusePromptMeta(
                name=info.name,
                type=_kind(latest),
                versions=service.version_numbers(info.name),
                labels=sorted(label.name for label in info.labels),
                tags=list(latest.content.tags),
                last_updated_at=latest.created_at,
                last_config=latest.content.model.canonical(),
            )
        )
    return LangfusePromptList(
        data=data,
        meta=LangfuseMeta(
            page=page,
            limit=limit,
            total_items=total,
            total_pages=math.ceil(total / limit) if total else 0,
        ),
    )
