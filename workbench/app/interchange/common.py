"""What every interchange format shares: the report, the YAML writer, and the import
step that turns parsed prompts into one transaction of new versions and suites.

An import never commits what did not change: a prompt whose content hashes the same as
its latest version gets no version, a suite equal to the vault's is not rewritten. What
a format could not carry over is *said* (``skipped``, ``notes``), never dropped in
silence.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from workbench.app.sources import prepare_commit
from workbench.core.assertions import Assertion
from workbench.core.errors import InputError, WorkbenchError
from workbench.core.models import PromptContent, Variable
from workbench.core.runs import TestCase
from workbench.core.templating import validate_content
from workbench.vault import Vault
from workbench.vault.batch import Change, apply_changes


@dataclass
class Report:
    """What an import or export did, for the CLI (text or ``--json``)."""

    committed: list[str] = field(default_factory=list)
    """Prompts that got a new version ("support/reply draft 3 (1a2b3c)")."""
    unchanged: list[str] = field(default_factory=list)
    """Prompts whose file equals their latest version: nothing committed."""
    cases_set: list[str] = field(default_factory=list)
    """Prompts whose test cases were replaced by the file's."""
    written: list[str] = field(default_factory=list)
    """Files an export wrote."""
    skipped: list[str] = field(default_factory=list)
    """What the format holds and the workbench does not (or the other way round)."""
    notes: list[str] = field(default_factory=list)
    """Approximations and hints: carried over, but not exactly the same."""
    models: list[str] = field(default_factory=list)
    """Models an imported configuration compares (``--models`` for compare/eval)."""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Parsed:
    """One prompt read from a file: its content and, if the file had one, its suite."""

    name: str
    content: PromptContent
    cases: Sequence[TestCase] | None
    origin: str
    """Where it came from (a path), for errors."""


class _Dumper(yaml.SafeDumper):
    """Block style; multi-line text as a literal block (``|``), so a template reads and
    diffs in git as the person wrote it."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(data: Any) -> str:
    """Deterministic YAML: the keys in the order given (callers sort where order does not
    matter), UTF-8 text unescaped, a newline at the end. Text holding a character that
    PyYAML writes raw but reads as a line break (NEL, LS, PS) is written with escapes
    instead, checked by reading the text back: the file always reads as ``data``."""
    for unescaped in (True, False):
        text: str = yaml.dump(
            data,
            Dumper=_Dumper,
            sort_keys=False,
            allow_unicode=unescaped,
            width=100,
            default_flow_style=False,
        )
        if yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) == data:
            break
    return text if text.endswith("\n") else text + "\n"


def sorted_data(value: Any) -> Any:
    """Mappings with sorted keys, all the way down (JSON values whose order means nothing)."""
    if isinstance(value, dict):
        return {str(k): sorted_data(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [sorted_data(v) for v in value]
    return value


def sensitive_names(content: PromptContent) -> set[str]:
    return {v.name for v in content.variables if v.sensitivity == "sensitive"}


def cases_data(cases: Sequence[TestCase], sensitive: set[str]) -> list[dict[str, Any]]:
    """Cases in the case-file shape (``name``, ``values``, ``assert``) with sorted values;
    values of ``sensitive`` variables are left out (they stay in the vault)."""
    out = []
    for case in cases:
        item: dict[str, Any] = {"name": case.name}
        values = {k: v for k, v in case.values.items() if k not in sensitive}
        if values:
            item["values"] = sorted_data(values)
        if case.assertions:
            item["assert"] = [_assertion_data(a) for a in case.assertions]
        out.append(item)
    return out


def _assertion_data(assertion: Assertion) -> dict[str, Any]:
    """``type`` first, then the fields that differ from their defaults, in field order."""
    dumped = assertion.model_dump(mode="json", exclude_defaults=True)
    return {"type": assertion.type, **{k: sorted_data(v) for k, v in dumped.items() if k != "type"}}


def keep_sensitive(
    cases: Sequence[TestCase], old: Sequence[TestCase], sensitive: set[str]
) -> list[TestCase]:
    """The file's cases with the vault's values of sensitive variables put back where the
    file has none (an export leaves them out), matched by case name."""
    before = {c.name: c.values for c in old}
    out = []
    for case in cases:
        kept = {
            k: v
            for k, v in before.get(case.name, {}).items()
            if k in sensitive and k not in case.values
        }
        out.append(case.model_copy(update={"values": {**case.values, **kept}}) if kept else case)
    return out


def variable_type(value: Any) -> str:
    """The variable type a sample value suggests (for formats that declare none)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict | list):
        return "json"
    return "string"


def declare(names: Sequence[str], samples: Mapping[str, Sequence[Any]]) -> tuple[Variable, ...]:
    """Variables for the names a template uses, typed so every sample value fits: one
    type for all, ``number`` for whole and decimal numbers mixed, else ``string``
    (``json`` when a sample is a list or mapping, which text cannot hold)."""
    out = []
    for name in sorted(set(names)):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            continue
        kinds = {variable_type(v) for v in samples.get(name, ()) if v is not None}
        if len(kinds) == 1:
            kind = kinds.pop()
        elif kinds == {"integer", "number"}:
            kind = "number"
        else:
            kind = "json" if "json" in kinds else "string"
        out.append(Variable.model_validate({"name": name, "type": kind}))
    return tuple(out)


def slug(text: str, fallback: str) -> str:
    """A prompt-name part from free text: letters, digits, '_', '.', '-'."""
    part = re.sub(r"[^A-Za-z0-9_.-]+", "-", text.strip()).strip("-.")[:80]
    return part or fallback


def apply_parsed(
    vault: Vault, items: Sequence[Parsed], *, role: str, message: str, report: Report
) -> None:
    """Plan every prompt (bindings checked and pinned, templates checked, compared with
    the latest version and suite), then write all changes in one transaction. Every
    problem is collected first; with any, nothing is written."""
    problems: list[str] = []
    changes: list[Change] = []
    names = set(vault.prompt_names())
    for item in items:
        try:
            content = prepare_commit(vault, item.name, item.content, role)
            validate_content(content)
        except WorkbenchError as exc:
            problems.append(f"{item.origin}: {exc.message}")
            continue
        head = None
        old_cases: list[TestCase] = []
        if item.name in names:
            versions = vault.history(item.name)
            head = versions[-1] if versions else None
            old_cases = vault.test_cases(item.name)
        new_content = None if head and head.content_hash == content.content_hash() else content
        cases = None
        if item.cases is not None:
            merged = keep_sensitive(item.cases, old_cases, sensitive_names(content))
            cases = None if merged == old_cases else merged
        if new_content is None:
            report.unchanged.append(item.name)
        if cases is not None:
            report.cases_set.append(item.name)
        if new_content is not None or cases is not None:
            expected: uuid.UUID | None = head.id if head else None
            changes.append(Change(item.name, new_content, cases, expected))
    if problems:
        raise InputError(
            f"{len(problems)} problem{'s' if len(problems) != 1 else ''}; nothing was "
            "imported:\n  " + "\n  ".join(problems),
            hint="Fix the files named above and run the import again.",
        )
    for version in apply_changes(vault, changes, message):
        report.committed.append(f"{version.prompt} {version.display_number}")
