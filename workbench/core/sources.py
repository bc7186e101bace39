"""Named data sources (the parameter manager): what a source is, and who may use it.

A source is a place a variable's value is read from at run time: a CSV or JSON file,
a SQL query over a database opened read-only, or an HTTP GET. Its *definition* (kind,
location, query, the keychain entry of its credential) is what a version pins (see
:class:`workbench.core.models.Binding`); its *access* (the prompts and roles allowed
to use it) is checked at commit, at run and at publish, and is deliberately not part
of the definition's hash: opening a source to one more prompt must not make every
version that pins it stale. Both are versioned together: each edit is a new source
version (``workbench.vault.sources``).

Pure data; the reading lives in ``workbench.app.sources`` and the storage in
``workbench.vault.sources``. No secret is ever part of a definition: an HTTP (or SQL)
source names a keychain entry, whose value is read only when the source is used.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from workbench.core.models import SOURCE_NAME_RE, SOURCE_NAME_RULE, canonical_json

SourceKind = Literal["csv", "json", "sql", "http"]
SOURCE_KINDS: tuple[SourceKind, ...] = ("csv", "json", "sql", "http")
AccessRole = Literal["author", "reviewer", "publisher", "admin"]
ACCESS_ROLES: tuple[AccessRole, ...] = ("author", "reviewer", "publisher", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ACCESS_ROLES)}
"""Roles are cumulative, as on the registry: a publisher may do what a reviewer may."""

SQL_PARAM_RE = re.compile(r"(?<![:\w\\]):([A-Za-z_][A-Za-z0-9_]*)(?![:\w])")
"""A bound parameter in a query (``:customer_id``), named after a prompt variable, as
SQLAlchemy's ``text()`` finds them: ``::`` casts (PostgreSQL) are not parameters, and
a parameter right before one is not either (write ``CAST(:id AS int)``)."""
_URL_PASSWORD_RE = re.compile(r"^[A-Za-z0-9+.-]+://[^/@:]*:[^/@]+@")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def check_source_name(name: str) -> str:
    if not SOURCE_NAME_RE.fullmatch(name):
        raise ValueError(f"invalid source name {name!r}: use {SOURCE_NAME_RULE}")
    return name


class SourceDefinition(_Frozen):
    """Where the data is and how it is read; hashed, pinned by versions that bind it."""

    kind: SourceKind
    path: str | None = None
    """csv, json: the file (absolute, so every process reads the same one)."""
    record_path: str | None = None
    """json, http: dotted keys to the list of records in the document (``data.items``);
    none: the document is the list (or one record)."""
    url: str | None = None
    """sql: a SQLAlchemy URL without a password; http: a URL template whose
    ``{variable}`` places are filled with URL-encoded values."""
    query: str | None = None
    """sql: one SELECT; ``:name`` parameters are bound from the prompt's variables."""
    credential: str | None = None
    """The keychain entry holding the secret (http: sent as a bearer token, or in
    ``header``; sql: the database password). Only its name is stored."""
    header: str = "Authorization"
    """http: the header the credential goes in ("Authorization" sends ``Bearer ...``)."""

    @model_validator(mode="after")
    def _complete(self) -> SourceDefinition:
        need = {"csv": ("path",), "json": ("path",), "sql": ("url", "query"), "http": ("url",)}
        missing = [f for f in need[self.kind] if not getattr(self, f)]
        if missing:
            raise ValueError(f"a {self.kind} source needs {' and '.join(missing)}")
        allowed = {
            "csv": {"path"},
            "json": {"path", "record_path"},
            "sql": {"url", "query", "credential"},
            "http": {"url", "record_path", "credential"},
        }[self.kind]
        extra = [
            f
            for f in ("path", "record_path", "url", "query", "credential")
            if getattr(self, f) and f not in allowed
        ]
        if extra:
            raise ValueError(f"a {self.kind} source takes no {' or '.join(extra)}")
        if self.url and _URL_PASSWORD_RE.match(self.url):
            raise ValueError(
                "the URL holds a password; sources never store one: put it in the keychain "
                "(workbench key set NAME) and name it with --credential NAME"
            )
        if self.kind == "http" and self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError("an http source's URL starts with http:// or https://")
        if self.kind == "http" and self.url:
            url_variables(self.url)  # a malformed template is refused now, not at run
        return self

    def definition_hash(self) -> str:
        """SHA-256 over the canonical JSON of the definition (what a binding pins)."""
        return hashlib.sha256(canonical_json(self.model_dump(mode="json"))).hexdigest()

    def parameters(self) -> list[str]:
        """The prompt variables this definition reads (SQL parameters, URL places)."""
        if self.kind == "sql" and self.query:
            return list(dict.fromkeys(SQL_PARAM_RE.findall(self.query)))
        if self.kind == "http" and self.url:
            return url_variables(self.url)
        return []

    def where(self) -> str:
        """Where it reads from, for people (never a secret: there is none in it)."""
        if self.kind in ("csv", "json"):
            return str(self.path) + (f" at {self.record_path}" if self.record_path else "")
        return str(self.url)


def url_variables(template: str) -> list[str]:
    """The ``{name}`` places of an HTTP source's URL template, in order."""
    try:
        names = [f for _t, f, _s, _c in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ValueError(f"the URL template is malformed ({exc}); write {{name}} places") from exc
    for name in names:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"the URL template's place {{{name}}} is not a variable name")
    return list(dict.fromkeys(names))


class SourceAccess(_Frozen):
    """Who may use a source: prompts by name or folder (``support/``), and roles."""

    prompts: tuple[str, ...] = ()
    """Exact prompt names, or folder prefixes ending in '/'. Empty: no prompt at all."""
    roles: tuple[AccessRole, ...] = ("author",)
    """The lowest role that may use it is enough (roles are cumulative)."""
    sensitive_fields: tuple[str, ...] = ()
    """Fields whose values are sensitive: a variable bound to one must be marked
    sensitive (refused at commit otherwise), and ``source test`` masks them."""

    @field_validator("prompts")
    @classmethod
    def _clean(cls, prompts: tuple[str, ...]) -> tuple[str, ...]:
        from workbench.core.models import validate_prompt_name

        for entry in prompts:
            validate_prompt_name(entry.rstrip("/") if entry.endswith("/") else entry)
        return tuple(sorted(set(prompts)))

    @field_validator("roles")
    @classmethod
    def _roles(cls, roles: tuple[AccessRole, ...]) -> tuple[AccessRole, ...]:
        if not roles:
            raise ValueError("name at least one role (author lets everyone use it)")
        return tuple(sorted(set(roles), key=ROLE_RANK.__getitem__))

    def allows_prompt(self, prompt: str) -> bool:
        return any(
            prompt.startswith(entry) if entry.endswith("/") else prompt == entry
            for entry in self.prompts
        )

    def allows_role(self, role: str) -> bool:
        rank = ROLE_RANK.get(role)  # type: ignore[call-overload]
        return rank is not None and any(rank >= ROLE_RANK[r] for r in self.roles)


class SourceVersion(_Frozen):
    """One version of a named source (numbered 1, 2, ... in this vault)."""

    name: str
    number: int
    definition: SourceDefinition
    access: SourceAccess
    definition_hash: str
    author: str
    created_at: datetime
    note: str = ""
    removed: bool = False
    """The source was removed after this version: nothing may use it."""

    @property
    def label(self) -> str:
        return f"{self.name} v{self.number}"


class Resolution(_Frozen):
    """The reads of one source for one prompt version in one run's preparation (or
    one ``source test``), as audited: counts, never a value."""

    source: str
    source_version: int
    definition_hash: str
    prompt: str
    version_id: str
    rows: int
    """Rows read, over all reads."""
    reads: int = 1
    """Queries, files or requests made: one per distinct set of parameters."""
    cases: int = 1
    """The run's cases they served."""
    failed: int = 0
    """Reads that failed (their cases failed with the source's error)."""


def allowed_entries_text(entries: Iterable[str]) -> str:
    listed = sorted(entries)
    return ", ".join(listed) if listed else "no prompt"


def mask(value: object, sensitive: bool) -> str:
    """A value as shown to a person: sensitive ones as dots."""
    return "••••••" if sensitive else str(value)


def columns_of(rows: Sequence[dict[str, object]]) -> list[str]:
    """Column names over all rows, first-seen order."""
    out: dict[str, None] = {}
    for row in rows:
        out.update(dict.fromkeys(row))
    return list(out)
