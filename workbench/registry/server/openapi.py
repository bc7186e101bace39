"""What the OpenAPI document says about errors and names: every route documents each
status it can answer with the one error body, and path parameters carry the prompt-
and label-name grammar, so the document is the contract clients can check against."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from workbench.core.models import (
    LABEL_NAME_PATTERN,
    MAX_LABEL_NAME,
    MAX_PROMPT_NAME,
    PROMPT_NAME_PATTERN,
)
from workbench.registry.schemas import ErrorBody

MAX_SQL_INT = 2**31 - 1
"""The largest number a cursor, offset or version number may be: the INTEGER columns
they are compared with hold no more on PostgreSQL (a bigger one was a 500 there and
fine on SQLite)."""

ERROR_DESCRIPTIONS = {
    401: "No token, or one the registry does not accept (revoked, disabled user).",
    403: "The caller's role may not do this.",
    404: "No such prompt, version or label.",
    409: "A conflict: the label moved first (expected/actual say where), or the version "
    "clashes with one already stored.",
    400: "An OTLP body that cannot be decoded as its Content-Type says.",
    413: "The request body is over the registry's size limit.",
    415: "An OTLP body that is neither application/x-protobuf nor application/json.",
    422: "The request does not match this document; the detail names the field.",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for these error statuses, each with :class:`ErrorBody`."""
    return {code: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[code]} for code in codes}


# The rules are the server's own (validate_prompt_name / validate_label_name, with
# their clearer messages); the document states them, it does not enforce a second copy.
PromptName = Annotated[
    str,
    Path(
        description="The prompt's name: parts joined by '/', no part '.' or '..', no part "
        "'versions', 'resolve' or 'labels'.",
        json_schema_extra={"pattern": PROMPT_NAME_PATTERN, "maxLength": MAX_PROMPT_NAME},
    ),
]
LabelName = Annotated[
    str,
    Path(
        description="A label, e.g. production.",
        json_schema_extra={"pattern": LABEL_NAME_PATTERN, "maxLength": MAX_LABEL_NAME},
    ),
]

__all__ = ["ERROR_DESCRIPTIONS", "MAX_SQL_INT", "LabelName", "PromptName", "errors"]
