"""The vault's JSON bundle: a whole vault (or some prompts) as one portable file.

Reading a bundle checks everything before anything is written: UTF-8, complete JSON,
the shape, and every version's ``content_hash`` against its content.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workbench.core.errors import BundleError, HashMismatchError
from workbench.core.models import PromptContent, PromptVersion
from workbench.core.runs import TestCase

BUNDLE_FORMAT = "prompt-workbench-bundle"
BUNDLE_VERSION = 1


class BundleVersion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID
    content: PromptContent
    content_hash: str
    message: str = ""
    author: str = ""
    created_at: datetime
    parent_ids: list[uuid.UUID] = []
    number: int | None = None

    @classmethod
    def of(cls, version: PromptVersion) -> BundleVersion:
        """A version as a bundle holds it: its fields but the prompt (the bundle groups
        versions by prompt), taken by name, so the two shapes cannot drift apart."""
        return cls(**{name: getattr(version, name) for name in cls.model_fields})


class BundlePrompt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    archived: bool = False
    created_at: datetime
    versions: list[BundleVersion] = []
    labels: dict[str, uuid.UUID] = {}
    test_cases: list[TestCase] = []


class Bundle(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["prompt-workbench-bundle"] = "prompt-workbench-bundle"
    version: int = BUNDLE_VERSION
    exported_at: datetime
    prompts: list[BundlePrompt] = Field(default_factory=list)
    registry: str | None = None
    """The registry that numbered the versions (the exporting vault's); None when that
    vault never synced. A vault bound to another registry keeps those numbers only as
    provenance and pushes the versions like drafts."""


def _validation_summary(exc: ValidationError, prefix: str = "") -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = prefix + ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}")
    more = len(exc.errors()) - 5
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)


def parse_bundle(raw: bytes, source: str = "bundle") -> Bundle:
    """Decode and validate a bundle; raise BundleError / HashMismatchError, never half-read."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleError(
            f"{source} is not UTF-8 text (bad byte at offset {exc.start})",
            hint="Export the bundle again with: workbench vault export --out FILE",
        ) from exc
    if not text.strip():
        raise BundleError(f"{source} is empty", hint="Give the path of an exported bundle.")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(text.rstrip()) - 1 or exc.msg.startswith("Unterminated")
        what = "truncated" if truncated else "not valid JSON"
        raise BundleError(
            f"{source} is {what} (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            hint="The file was cut short or edited by hand; export it again.",
        ) from exc
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        raise BundleError(
            f"{source} is JSON but not a Prompt Workbench bundle (no format marker)",
            hint="Bundles are written by: workbench vault export",
        )
    if data.get("version") != BUNDLE_VERSION:
        raise BundleError(
            f"{source} has bundle version {data.get('version')!r}; this app reads version "
            f"{BUNDLE_VERSION}",
            hint="Update Prompt Workbench, or export the bundle from a matching version.",
        )
    # Prompt by prompt: one validation of a whole 18 MB bundle is one call that holds
    # the interpreter lock for a second, and the window froze for it during an import.
    prompts = data.get("prompts", [])
    where = ""
    try:
        if not isinstance(prompts, list):
            Bundle.model_validate(data)  # says what is wrong, in pydantic's words
        head = Bundle.model_validate({**data, "prompts": []})
        parsed = []
        for index, prompt in enumerate(prompts):
            where = f"prompts.{index}."
            parsed.append(BundlePrompt.model_validate(prompt))
        bundle = head.model_copy(update={"prompts": parsed})
    except ValidationError as exc:
        raise BundleError(
            f"{source} does not have the bundle shape: {_validation_summary(exc, where)}",
            hint="Export the bundle again; do not edit it by hand.",
        ) from exc
    for prompt in bundle.prompts:
        for version in prompt.versions:
            actual = version.content.content_hash()
            if actual != version.content_hash:
                raise HashMismatchError(
                    f"{source}: version {version.id} of {prompt.name!r} does not match its "
                    f"content_hash (stated {version.content_hash[:12]}…, computed {actual[:12]}…)",
                    hint="The bundle was altered after export; nothing was imported.",
                )
    return bundle
