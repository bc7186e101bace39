"""Pure domain models: prompts, immutable versions, labels, audit events.

A version's identity is a client-made UUID; its ``content_hash`` is SHA-256 over
the canonical JSON of its *content* (messages, model defaults, declared variables,
tags). Commit metadata (message, author, time, parents) is not content: two
authors who write the same text get the same hash.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Role = Literal["system", "user", "assistant"]
VariableType = Literal["string", "number", "integer", "boolean", "json"]

PROMPT_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
LABEL_NAME_RE = re.compile(r"^[a-z0-9_.-]+$")
TAG_RE = re.compile(r"^[A-Za-z0-9_.:/-]+$")


def utcnow() -> datetime:
    return datetime.now(UTC)


def canonical_json(data: Any) -> bytes:
    """Stable JSON bytes: sorted keys, no whitespace, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


MAX_PROMPT_NAME = 200
_PART = r"(?:[A-Za-z0-9_-][A-Za-z0-9_.-]*|\.[A-Za-z0-9_-][A-Za-z0-9_.-]*|\.\.[A-Za-z0-9_.-]+)"
PROMPT_NAME_PATTERN = rf"^{_PART}(?:/{_PART})*$"
""":func:`validate_prompt_name`'s grammar as one regular expression (no part '.' or
'..'), for documents such as the registry's OpenAPI schema; reserved words and the
length bound are checked by the function."""
_LABEL_PART = r"(?:[a-z0-9_-][a-z0-9_.-]*|\.[a-z0-9_-][a-z0-9_.-]*|\.\.[a-z0-9_.-]+)"
LABEL_NAME_PATTERN = rf"^{_LABEL_PART}$"
MAX_LABEL_NAME = 64
RESERVED_NAME_PARTS = frozenset({"versions", "resolve", "labels"})
"""Words of the registry's URLs (``/prompts/NAME/versions`` ...): a name part spelled
like one would make two prompts share a URL."""


def validate_prompt_name(name: str) -> str:
    """The one prompt-name rule (vault, CLI, registry client and server): parts of
    letters, digits, '_', '.', '-' joined by '/'; no part '.' or '..' (URLs collapse
    them) and no part that is a reserved URL word; at most 200 characters."""
    if len(name) > MAX_PROMPT_NAME:
        raise ValueError(
            f"invalid prompt name {name[:40]!r}…: it is {len(name):,} characters long; "
            f"a name has at most {MAX_PROMPT_NAME} (use folders: 'team/area/name')"
        )
    if not PROMPT_NAME_RE.fullmatch(name):
        odd = next((c for c in name if not (c.isascii() and (c.isalnum() or c in "_.-/"))), "")
        which = f" ({odd!r} is not one of them)" if odd and odd != " " else ""
        if odd == " ":
            which = " (a space is not one of them)"
        if not odd and "" in name.split("/"):
            which = " (a part is empty: '/' at the start, at the end or twice)"
        raise ValueError(
            f"invalid prompt name {name!r}: use ASCII letters and digits, '_', '.', '-', "
            f"with '/' between folder parts (e.g. 'support/reply'){which}"
        )
    for part in name.split("/"):
        if part in (".", ".."):
            raise ValueError(
                f"invalid prompt name {name!r}: a part cannot be '.' or '..' "
                "(web addresses collapse them)"
            )
        if part in RESERVED_NAME_PARTS:
            raise ValueError(
                f"invalid prompt name {name!r}: {part!r} is reserved for the registry's "
                f"addresses (reserved: {', '.join(sorted(RESERVED_NAME_PARTS))})"
            )
    return name


def validate_label_name(name: str) -> str:
    if not LABEL_NAME_RE.fullmatch(name) or len(name) > 64 or name in (".", ".."):
        raise ValueError(
            f"invalid label {name!r}: use lowercase letters, digits, '_', '.', '-' "
            "(not '.' or '..')"
        )
    return name


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Message(_Frozen):
    role: Role
    template: str


MODEL_REF_RULE = "write models as PROFILE:MODEL, e.g. openai:gpt-4o-mini"


def split_model_ref(text: str, default_profile: str | None = None) -> tuple[str, str]:
    """``(profile, model)`` of ``PROFILE:MODEL``; a bare ``MODEL`` takes
    ``default_profile`` when one is given. Raises ``ValueError`` saying the rule."""
    profile, sep, model = text.partition(":")
    if not sep:
        if default_profile is None or not text.strip():
            raise ValueError(f"{text!r}: {MODEL_REF_RULE}")
        return default_profile, text
    if not profile.strip() or not model.strip():
        raise ValueError(f"{text!r}: {MODEL_REF_RULE}")
    return profile, model


class ModelDefaults(_Frozen):
    """Model parameters a version runs with by default."""

    model: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, gt=0)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: tuple[str, ...] = ()
    response_format: Literal["text", "json_object"] | None = None
    fallbacks: tuple[str, ...] = ()
    """Models tried in order when the primary one still fails after its retries:
    ``PROFILE:MODEL``, or ``MODEL`` on the primary's profile. Checked at commit
    (:func:`workbench.core.templating.check_content`), not here, so a version stored
    before the check still reads (its runs say which fallback is wrong)."""

    def canonical(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        return {k: v for k, v in data.items() if v not in (None, [], ())}


Sensitivity = Literal["public", "internal", "sensitive"]

SOURCE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
SOURCE_NAME_RULE = "lowercase letters, digits, '_', '.', '-' (at most 64), e.g. 'customers'"


class Binding(_Frozen):
    """Where a variable's value comes from: a field of a named data source
    (``workbench.core.sources``), resolved when a run is prepared, never typed in.

    ``pin`` is the SHA-256 of the source definition the version was committed with
    (:meth:`workbench.core.sources.SourceDefinition.definition_hash`). It lives here,
    in the version's content, because what a version does depends on where its data
    comes from: a reviewer approves the query or file with the text, a run of the
    version reads through exactly that definition (an edited source cannot change an
    approved version behind its back), and the pin travels with the version through
    bundles and the registry, whose hash check covers it. It is a content hash, not a
    local version number, so it means the same in every vault. Variables without a
    binding serialise exactly as before (:meth:`Variable.canonical`), so the hashes of
    versions without bindings do not change. The pin is filled in at commit."""

    source: str = Field(pattern=SOURCE_NAME_RE.pattern)
    field: str = Field(min_length=1, max_length=200)
    """The column (CSV, SQL) or key (JSON, HTTP) whose value the variable takes."""
    row: int | Literal["all"] = 1
    """Which of the matching rows: 1 = the first; ``all``: every row's value as a list
    (the variable must then be of type json)."""
    where: dict[str, str] = Field(default_factory=dict)
    """column -> variable: keep only rows whose column equals that variable's value
    (for file and HTTP sources; a SQL source filters in its query instead)."""
    pin: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @field_validator("row")
    @classmethod
    def _positive_row(cls, row: int | str) -> int | str:
        if isinstance(row, int) and row < 1:
            raise ValueError("row counts from 1 (the first matching row), or write 'all'")
        return row

    def canonical(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        if not self.where:
            del data["where"]
        return data


class Variable(_Frozen):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    type: VariableType = "string"
    description: str = ""
    default: Any = None
    required: bool = True
    sensitivity: Sensitivity = "public"
    """``sensitive``: its values are sent to the model but never stored in clear (the
    run log, its exports and the cache hold ``[sensitive: name]``; the answer and errors
    are scrubbed of them). ``internal`` is a label for now: shown, stored."""
    binding: Binding | None = None
    """Its value comes from a data source field (see :class:`Binding`), not a case."""

    def canonical(self) -> dict[str, Any]:
        """What the content hash covers: every field, ``sensitivity`` and ``binding`` only
        when set, so versions made before they existed keep their hashes."""
        data = self.model_dump(mode="json")
        if self.sensitivity == "public":
            del data["sensitivity"]
        del data["binding"]
        if self.binding is not None:
            data["binding"] = self.binding.canonical()
        return data


class PromptContent(_Frozen):
    """Everything that makes up a version's content (and so its hash)."""

    messages: tuple[Message, ...] = Field(min_length=1)
    model: ModelDefaults = ModelDefaults()
    variables: tuple[Variable, ...] = ()
    tags: tuple[str, ...] = ()

    @field_validator("tags")
    @classmethod
    def _normalise_tags(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        for tag in tags:
            if not TAG_RE.match(tag):
                raise ValueError(f"invalid tag {tag!r}: no spaces; letters, digits, _.:/- only")
        return tuple(sorted(set(tags)))

    @field_validator("variables")
    @classmethod
    def _unique_variables(cls, variables: tuple[Variable, ...]) -> tuple[Variable, ...]:
        names = [v.name for v in variables]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"variable declared twice: {', '.join(dupes)}")
        return tuple(sorted(variables, key=lambda v: v.name))

    def canonical(self) -> dict[str, Any]:
        return {
            "messages": [m.model_dump(mode="json") for m in self.messages],
            "model": self.model.canonical(),
            "variables": [v.canonical() for v in self.variables],
            "tags": list(self.tags),
        }

    def content_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.canonical())).hexdigest()


class PromptVersion(_Frozen):
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    prompt: str
    content: PromptContent
    content_hash: str
    message: str = ""
    author: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    parent_ids: tuple[uuid.UUID, ...] = ()
    number: int | None = None
    """The registry's per-prompt number, once pushed; None for a local draft."""
    local_ordinal: int | None = Field(default=None, exclude=True)
    """Its place among the prompt's versions in this vault (1 = the first one stored),
    set by the vault. Only for naming drafts; never sent or exported."""

    @property
    def short_id(self) -> str:
        return self.id.hex[:8]

    @property
    def display_number(self) -> str:
        """How people see the version: ``v3`` once the registry numbered it; before that a
        short local name that stays the same, ``draft 3 (a1b2c3)`` (3 = its place in this
        vault's history of the prompt, then the start of its id, usable as a reference)."""
        if self.number is not None:
            return f"v{self.number}"
        if self.local_ordinal is not None:
            return f"draft {self.local_ordinal} ({self.id.hex[:6]})"
        return f"draft ({self.id.hex[:6]})"

    def hash_matches(self) -> bool:
        return self.content.content_hash() == self.content_hash


class Prompt(_Frozen):
    name: str
    archived: bool = False
    created_at: datetime = Field(default_factory=utcnow)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        return validate_prompt_name(name)

    @property
    def folder(self) -> str:
        return self.name.rpartition("/")[0]


def heads(versions: Iterable[PromptVersion]) -> list[PromptVersion]:
    """The versions nobody builds on (in the given order): one normally, several after
    a fork. The one definition of "head" (the vault's per-prompt sync status counts the
    same thing in SQL)."""
    listed = list(versions)
    used = {p for v in listed for p in v.parent_ids}
    return [v for v in listed if v.id not in used]


LabelSource = Literal["local", "registry"]


class Label(_Frozen):
    """A label of a prompt. ``source`` "registry": mirrored from the team registry on every
    sync (the registry is its truth; it moves only by publishing); "local": this vault's."""

    prompt: str
    name: str
    version_id: uuid.UUID
    updated_at: datetime = Field(default_factory=utcnow)
    source: LabelSource = "local"
    canary_version_id: uuid.UUID | None = None
    canary_percent: int | None = None
    protected: bool = False
    updated_by: str = ""


class LabelEvent(_Frozen):
    """One move of a label, oldest first in a history. ``to_version_id`` None: removed."""

    prompt: str
    label: str
    at: datetime
    actor: str
    from_version_id: uuid.UUID | None = None
    to_version_id: uuid.UUID | None = None
    to_number: int | None = None
    canary_version_id: uuid.UUID | None = None
    canary_percent: int | None = None
    reason: str = ""
    source: LabelSource = "local"
    registry_seq: int | None = None
    """The registry's audit entry number (registry events only): mirrored once."""


class AuditEvent(_Frozen):
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, Any] = {}
    prev_hash: str
    hash: str

    @staticmethod
    def compute_hash(
        prev_hash: str, at: datetime, actor: str, action: str, subject: str, detail: dict[str, Any]
    ) -> str:
        body = canonical_json(
            {
                "prev": prev_hash,
                "at": at.isoformat(),
                "actor": actor,
                "action": action,
                "subject": subject,
                "detail": detail,
            }
        )
        return hashlib.sha256(body).hexdigest()


class PromptSummary(_Frozen):
    """One row of a vault listing."""

    name: str
    archived: bool
    versions: int
    drafts: int
    latest_id: uuid.UUID | None
    latest_at: datetime | None
    labels: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


class SearchHit(_Frozen):
    prompt: str
    version_id: uuid.UUID | None
    field: str
    snippet: str
    rank: float
