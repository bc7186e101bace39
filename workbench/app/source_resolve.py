"""Resolving bound variables when a run is prepared: each source read once per set of
parameters (cases with the same parameters share the read), each case's values taken
from the rows read and typed, and one audit resolution per source definition read
through. The checks before anything is read (allow-lists, pins) are
:mod:`workbench.app.sources`."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.app.source_read import Rows, SourceReader
from workbench.app.sources import (
    bound_variables,
    check_access,
    credential_lookup,
    pinned_version,
    stand_ins,
)
from workbench.core.coercion import coerce_value
from workbench.core.errors import RenderError, SourceError, WorkbenchError
from workbench.core.models import Binding, PromptVersion, Variable, canonical_json
from workbench.core.runs import RunSpec
from workbench.core.sources import Resolution, SourceVersion
from workbench.secrets.store import SecretStore
from workbench.vault import Vault
from workbench.vault.sources import SourceStore


def typed_value(variable: Variable, binding: Binding, rows: Rows, values: Mapping[str, Any]) -> Any:
    """The variable's value from the rows read: filtered by ``where``, the chosen row's
    field (or every row's), converted to the variable's type. Errors never show it."""
    name = binding.source
    if binding.field not in rows.columns:
        shown = ", ".join(rows.columns[:20]) or "none"
        raise SourceError(
            f"data source {name!r} has no column {binding.field!r} (its columns: {shown})",
            hint=f"Bind {variable.name!r} to one of them (field: COLUMN).",
        )
    selected = rows.rows
    for column, var in binding.where.items():
        if column not in rows.columns:
            raise SourceError(
                f"data source {name!r} has no column {column!r} to match {var!r} on",
                hint="Fix the binding's 'where'.",
            )
        want = values.get(var)
        selected = [
            r for r in selected if r.get(column) is not None and str(r[column]) == str(want)
        ]
    if binding.row == "all":
        return [r.get(binding.field) for r in selected]
    if len(selected) < binding.row:
        raise SourceError(
            f"data source {name!r} gave {len(selected)} matching row"
            f"{'s' if len(selected) != 1 else ''}; variable {variable.name!r} takes row "
            f"{binding.row}",
            hint="Check the case's values the source is read with, or the binding's row.",
        )
    raw = selected[binding.row - 1].get(binding.field)
    if raw is None and variable.type != "json":
        raise SourceError(
            f"data source {name!r}: field {binding.field!r} is empty in row {binding.row} "
            f"(variable {variable.name!r} needs a value of type {variable.type})",
            hint="Fill it in the source, or pick another row.",
        )
    try:
        return coerce_value(variable.name, variable.type, raw)
    except RenderError:
        raise SourceError(
            f"data source {name!r}: field {binding.field!r} is not of type {variable.type} "
            f"(variable {variable.name!r})",
            hint=f"Change the variable's type, or bind it to a field of type {variable.type}.",
        ) from None


Resolved = dict[str, Any] | WorkbenchError
"""A case's values from its bindings, or why they could not be read."""


def _params(source: SourceVersion, binding: Binding, values: Mapping[str, Any]) -> dict[str, Any]:
    names = [*source.definition.parameters(), *binding.where.values()]
    return {n: values.get(n) for n in dict.fromkeys(names)}


@dataclass
class _Read:
    """One read of a source during a run's preparation."""

    source: SourceVersion
    rows: Rows | None = None
    error: WorkbenchError | None = None


def _resolutions(
    version: PromptVersion, reads: Mapping[bytes, _Read], cases: Mapping[bytes, set[int]]
) -> list[Resolution]:
    """One resolution per source definition the version read through: its reads and
    rows summed, the cases they served counted."""
    out: dict[tuple[str, str], Resolution] = {}
    served: dict[tuple[str, str], set[int]] = {}
    for key, read in reads.items():
        group = (read.source.name, read.source.definition_hash)
        served.setdefault(group, set()).update(cases[key])
        rows = 0 if read.rows is None else len(read.rows.rows)
        failed = int(read.error is not None)
        if group in out:
            r = out[group]
            out[group] = r.model_copy(
                update={"reads": r.reads + 1, "rows": r.rows + rows, "failed": r.failed + failed}
            )
        else:
            out[group] = Resolution(
                source=read.source.name,
                source_version=read.source.number,
                definition_hash=read.source.definition_hash,
                prompt=version.prompt,
                version_id=str(version.id),
                rows=rows,
                failed=failed,
            )
    return [r.model_copy(update={"cases": len(served[g])}) for g, r in out.items()]


@dataclass
class SourceResolver:
    """Resolves bound variables for the engine (:class:`workbench.engine.runner.Engine`'s
    ``bindings``). ``role`` is asked for every run (a login may change it)."""

    vault: Vault
    role: Callable[[], str]
    secrets: SecretStore | None = None

    def resolve(
        self, spec: RunSpec, versions: Sequence[PromptVersion], estimate: bool
    ) -> Mapping[tuple[uuid.UUID, int], Resolved]:
        """Values of bound variables per (version, case index), read from the sources
        (each read audited); for an ``estimate``, the allow-lists are checked and
        stand-ins given, nothing is read (nor audited)."""
        bound = [v for v in versions if bound_variables(v.content)]
        if not bound:
            return {}
        if estimate:
            role = self.role()
            out: dict[tuple[uuid.UUID, int], Resolved] = {}
            for version in bound:
                check_access(self.vault, version.prompt, version.content, role, "run")
                standing = stand_ins(version.content)
                out.update({(version.id, i): standing for i in range(len(spec.cases))})
            return out
        return self._resolve(spec, bound)

    def _resolve(
        self, spec: RunSpec, versions: Sequence[PromptVersion]
    ) -> dict[tuple[uuid.UUID, int], Resolved]:
        role = self.role()
        for version in versions:  # refused before anything is read
            check_access(self.vault, version.prompt, version.content, role, "run")
        reader = SourceReader(credential_lookup(self.vault, self.secrets))
        with reader:
            out, audits = self._read_all(spec, versions, reader)
        SourceStore(self.vault).record_resolutions(audits)
        return out

    def _read_all(
        self, spec: RunSpec, versions: Sequence[PromptVersion], reader: SourceReader
    ) -> tuple[dict[tuple[uuid.UUID, int], Resolved], list[Resolution]]:
        out: dict[tuple[uuid.UUID, int], Resolved] = {}
        audits: list[Resolution] = []
        for version in versions:
            reads: dict[bytes, _Read] = {}  # one per source and parameters
            cases: dict[bytes, set[int]] = {}
            sources: dict[str, SourceVersion | WorkbenchError] = {}
            for index, case in enumerate(spec.cases):
                values = {v.name: v.default for v in version.content.variables}
                values.update({k: v for k, v in case.values.items() if v is not None})
                got: dict[str, Any] = {}
                problem: WorkbenchError | None = None
                for variable, binding in bound_variables(version.content):
                    if binding.source not in sources:
                        try:
                            sources[binding.source] = pinned_version(self.vault, binding)
                        except WorkbenchError as exc:
                            sources[binding.source] = exc
                    source = sources[binding.source]
                    if isinstance(source, WorkbenchError):
                        problem = source
                        break
                    params = _params(source, binding, values)
                    key = canonical_json(
                        {"s": source.name, "h": source.definition_hash, "p": params}
                    )
                    read = reads.get(key)
                    if read is None:
                        read = reads[key] = _Read(source)
                        try:
                            read.rows = reader.read(source.name, source.definition, params)
                        except WorkbenchError as exc:
                            read.error = exc
                    cases.setdefault(key, set()).add(index)
                    try:
                        if read.error is not None:
                            raise read.error
                        assert read.rows is not None
                        got[variable.name] = typed_value(variable, binding, read.rows, values)
                    except WorkbenchError as exc:
                        problem = exc
                        break
                out[(version.id, index)] = problem if problem is not None else got
            audits += _resolutions(version, reads, cases)
        return out, audits
