"""The parameter manager's flows, one for the CLI and the window: checking bindings
against sources' allow-lists (at commit, at run, at publish), pinning them at commit,
standing in for them in an estimate, and trying a source once. Resolving them when a
run is prepared is :mod:`workbench.app.source_resolve`.

Who may use a source: the prompt must be on its allow-list (by name or folder) and
the local person's role (:func:`workbench.app.identity.known_role`) must reach one of
its roles. The allow-list checked is always the source's newest version (closing a
source to a prompt takes effect at once); the definition read is the one the version
pinned (an edited source cannot change what an approved version reads).

A read is one query (file, request) for one set of parameters; cases of a run with
the same parameters share it. A resolution is the reads of one source for one prompt
version in one run: one audit event (source, its version, prompt, version, who, when,
how many reads, rows and cases; never a value), so 1,000 cases cost one event. A
read that fails fails the cells of its cases, with the source's error, and the rest
of the run goes on; a binding outside an allow-list refuses the whole run before
anything is read. An estimate reads nothing (stand-ins of the variables' types): the
window asks for one on every change of its choices, on its own thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from workbench.app.source_read import CredentialLookup, read_source
from workbench.core.errors import (
    NotFoundError,
    SourceAccessError,
    SourceError,
    UsageError,
    WorkbenchError,
)
from workbench.core.models import Binding, PromptContent, PromptVersion, Variable
from workbench.core.sources import (
    Resolution,
    SourceAccess,
    SourceDefinition,
    SourceVersion,
    allowed_entries_text,
)
from workbench.secrets.store import SecretStore
from workbench.vault import Vault
from workbench.vault.sources import SourceStore

When = Literal["commit", "run", "publish"]


def _invalid(exc: ValidationError, what: str) -> UsageError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    text = str(first["msg"]).removeprefix("Value error, ")
    return UsageError(
        f"invalid {what}: {where + ': ' if where else ''}{text}",
        hint="See: workbench source add --help",
    )


def make_definition(fields: Mapping[str, Any]) -> SourceDefinition:
    """A definition from what a person gave, files and SQLite databases made absolute
    (every process, from any folder, reads the same one); a clear error otherwise."""
    data = dict(fields)
    if data.get("path"):
        data["path"] = str(Path(str(data["path"])).expanduser().resolve())
    url = str(data.get("url") or "")
    if data.get("kind") == "sql" and url.startswith("sqlite:///") and url != "sqlite:///":
        rest = url[len("sqlite:///") :]
        if not rest.startswith("/") and rest != ":memory:":
            data["url"] = "sqlite:///" + str(Path(rest).expanduser().resolve())
    try:
        return SourceDefinition.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc, "data source") from exc


def make_access(
    prompts: Sequence[str], roles: Sequence[str], sensitive_fields: Sequence[str] = ()
) -> SourceAccess:
    try:
        return SourceAccess.model_validate(
            {
                "prompts": list(prompts),
                "roles": list(roles),
                "sensitive_fields": list(sensitive_fields),
            }
        )
    except ValidationError as exc:
        raise _invalid(exc, "allow-list") from exc


def bound_variables(content: PromptContent) -> list[tuple[Variable, Binding]]:
    return [(v, v.binding) for v in content.variables if v.binding is not None]


def _owner_hint(source: SourceVersion, prompt: str) -> str:
    folder = prompt.rpartition("/")[0]
    also = f" (or its folder: --allow-prompt {folder}/)" if folder else ""
    return (
        f"Ask the source's owner ({source.author}) to add the prompt to its allow-list: "
        f"workbench source edit {source.name} --allow-prompt {prompt}{also}"
    )


def check_access(
    vault: Vault, prompt: str, content: PromptContent, role: str, when: When
) -> dict[str, SourceVersion]:
    """The newest version of each source ``content`` binds, by name, once each is known
    to exist, not removed, and open to ``prompt`` and ``role``; else
    :class:`SourceAccessError` saying which source, which prompt and how to fix it."""
    store = SourceStore(vault)
    out: dict[str, SourceVersion] = {}
    for variable, binding in bound_variables(content):
        name = binding.source
        if name not in out:
            try:
                source = store.get(name)
            except NotFoundError:
                raise SourceAccessError(
                    f"{when} refused: variable {variable.name!r} of {prompt!r} is bound to data "
                    f"source {name!r}, which this vault does not have",
                    hint=f"Add the source first (workbench source add {name} ...), or remove "
                    "the binding.",
                ) from None
            if source.removed:
                raise SourceAccessError(
                    f"{when} refused: variable {variable.name!r} of {prompt!r} is bound to data "
                    f"source {name!r}, which was removed",
                    hint=f"Bind it to another source, or add {name!r} again.",
                )
            if not source.access.allows_prompt(prompt):
                raise SourceAccessError(
                    f"{when} refused: prompt {prompt!r} is not on the allow-list of data source "
                    f"{name!r} (variable {variable.name!r} is bound to it; the source allows "
                    f"{allowed_entries_text(source.access.prompts)})",
                    hint=_owner_hint(source, prompt),
                )
            if not source.access.allows_role(role):
                raise SourceAccessError(
                    f"{when} refused: data source {name!r} is open to "
                    f"{' or '.join(source.access.roles)} and above; your role is {role} "
                    f"(prompt {prompt!r}, variable {variable.name!r})",
                    hint=f"Ask the source's owner ({source.author}) to add your role: "
                    f"workbench source edit {name} --allow-role {role}",
                )
            out[name] = source
    return out


def _check_shape(prompt: str, content: PromptContent, sources: Mapping[str, SourceVersion]) -> None:
    """What a binding needs of the prompt: the variables its source reads declared (and
    not bound themselves), a list type for ``row: all``, sensitivity for a sensitive field."""
    declared = {v.name: v for v in content.variables}
    for variable, binding in bound_variables(content):
        source = sources[binding.source]
        needs = [*source.definition.parameters(), *binding.where.values()]
        for need in dict.fromkeys(needs):
            other = declared.get(need)
            if other is None:
                raise UsageError(
                    f"variable {variable.name!r} of {prompt!r} is bound to data source "
                    f"{source.name!r}, which reads variable {need!r}: declare it",
                    hint=f"Add {need!r} to the prompt's variables (its value comes from the "
                    "test case).",
                )
            if other.binding is not None:
                raise UsageError(
                    f"variable {variable.name!r} of {prompt!r} reads bound variable {need!r}: "
                    "a source's parameters come from test cases, not from other sources",
                    hint=f"Give {need!r} a value in the cases instead of a binding.",
                )
        if binding.row == "all" and variable.type != "json":
            raise UsageError(
                f"variable {variable.name!r} of {prompt!r} takes every row ('row: all'), a list: "
                "its type must be json",
                hint="Set its type to json, or pick one row (row: 1).",
            )
        if binding.field in source.access.sensitive_fields and variable.sensitivity != "sensitive":
            raise UsageError(
                f"field {binding.field!r} of data source {source.name!r} is sensitive: "
                f"variable {variable.name!r} of {prompt!r}, bound to it, must be too",
                hint="Mark it 'sensitivity: sensitive' (its values are then never stored).",
            )


def prepare_commit(vault: Vault, prompt: str, content: PromptContent, role: str) -> PromptContent:
    """The content to commit: every binding checked (allow-list, shape) and pinned to
    its source's newest definition. Unbound content comes back unchanged."""
    if not bound_variables(content):
        return content
    sources = check_access(vault, prompt, content, role, "commit")
    _check_shape(prompt, content, sources)
    variables = tuple(
        v
        if v.binding is None
        else v.model_copy(
            update={
                "binding": v.binding.model_copy(
                    update={"pin": sources[v.binding.source].definition_hash}
                )
            }
        )
        for v in content.variables
    )
    return content.model_copy(update={"variables": variables})


def check_publish(vault: Vault, version: PromptVersion, role: str) -> None:
    """Refuse to publish a version whose bindings the allow-lists do not admit."""
    check_access(vault, version.prompt, version.content, role, "publish")


def pinned_version(vault: Vault, binding: Binding) -> SourceVersion:
    """The source version a binding reads: its pin's, else (no pin) the newest."""
    store = SourceStore(vault)
    if binding.pin is None:
        return store.get(binding.source)
    found = store.by_hash(binding.source, binding.pin)
    if found is None:
        raise SourceError(
            f"this version pins data source {binding.source!r} at definition "
            f"{binding.pin[:12]}, which this vault does not have",
            hint="Commit the prompt again to pin the source's current definition.",
        )
    return found


def source_reads(vault: Vault, content: PromptContent) -> set[str]:
    """The variables the sources ``content`` binds read (SQL ``:name``, URL ``{name}``,
    a binding's ``where``), by the definitions pinned; unknown sources read nothing."""
    out: set[str] = set()
    for _variable, binding in bound_variables(content):
        out.update(binding.where.values())
        try:
            out.update(pinned_version(vault, binding).definition.parameters())
        except WorkbenchError:
            continue
    return out


def pin_names(vault: Vault, content: PromptContent) -> list[str]:
    """The source versions a version's bindings pin, for people: ``crm v2 (1a2b3c4d5e6f)``
    (``not in this vault`` when the pinned definition is unknown here)."""
    out: dict[str, None] = {}
    store = SourceStore(vault)
    for _variable, binding in bound_variables(content):
        if binding.pin is None:
            out[f"{binding.source} (not pinned)"] = None
            continue
        found = store.by_hash(binding.source, binding.pin)
        where = f"v{found.number}" if found else "not in this vault"
        out[f"{binding.source} {where} ({binding.pin[:12]})"] = None
    return list(out)


def credential_lookup(vault: Vault, store: SecretStore | None) -> CredentialLookup:
    """Secrets from the keychain (opened on first use), each read audited, registered
    for redaction."""
    stores: list[SecretStore] = [] if store is None else [store]

    def lookup(entry: str) -> str | None:
        from workbench.secrets.resolve import resolve_key

        if not stores:
            from workbench.secrets.keyring_store import KeyringStore

            stores.append(KeyringStore())
        return resolve_key(
            stores[0],
            entry,
            audit=lambda name, where: vault.record_event("key.read", name, {"source": where}),
        )

    return lookup


def stand_ins(content: PromptContent) -> dict[str, Any]:
    """Values standing for what the bound variables will get at run time (for an
    estimate, or the editor's preview: ``[crm.email]``), nothing read."""
    return {v.name: _stand_in(v, b) for v, b in bound_variables(content)}


def _stand_in(variable: Variable, binding: Binding) -> Any:
    """A value of the variable's type standing for what the source will give."""
    if binding.row == "all":
        return []
    return {"string": f"[{binding.source}.{binding.field}]", "integer": 0, "number": 0.0,
            "boolean": False, "json": {}}[variable.type]  # fmt: skip


@dataclass(frozen=True)
class TestReport:
    """What ``source test`` shows: the rows' count and columns, a few rows masked."""

    __test__ = False

    source: str
    version: int
    rows: int
    columns: list[str]
    sample: list[dict[str, str]]


def try_source(
    vault: Vault,
    name: str,
    params: Mapping[str, Any],
    secrets: SecretStore | None = None,
    sample: int = 5,
) -> TestReport:
    """Read the newest version of ``name`` once with ``params``; audited like a run's
    read (prompt ``-``). Values of the source's sensitive fields are masked."""
    source = SourceStore(vault).get(name)
    if source.removed:
        raise UsageError(f"data source {name!r} was removed", hint="See: workbench source list")
    wanted = {p: params.get(p) for p in source.definition.parameters()}
    audit = Resolution(
        source=name,
        source_version=source.number,
        definition_hash=source.definition_hash,
        prompt="-",
        version_id="-",
        rows=0,
    )
    try:
        rows = read_source(name, source.definition, wanted, credential_lookup(vault, secrets))
    except SourceError as exc:
        SourceStore(vault).record_resolutions(
            [audit.model_copy(update={"error": type(exc).__name__})]
        )
        raise
    SourceStore(vault).record_resolutions([audit.model_copy(update={"rows": len(rows.rows)})])
    hidden = set(source.access.sensitive_fields)
    shown = [
        {
            c: "••••••" if c in hidden else "" if r.get(c) is None else str(r.get(c))
            for c in rows.columns
        }
        for r in rows.rows[:sample]
    ]
    return TestReport(name, source.number, len(rows.rows), rows.columns, shown)
