"""Test cases from CSV, JSON or YAML files: each case is a set of variable values.

Accepted shapes: a CSV with a header row (one column per variable; an optional
``name`` column names the case; ``assert:KIND`` columns hold assertions); a JSON/YAML
list of mappings; or a mapping with a ``cases`` list. A case mapping may be
``{name, values}`` or plain variable values, plus ``assert: {contains: refund}`` (or
a list of ``{type, value}``) for what the answer must satisfy.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from workbench.core.assertions import parse_assertion_spec
from workbench.core.errors import InputError, UsageError
from workbench.core.files import load_yaml, read_text
from workbench.core.runs import TestCase

HINT = "See 'Test cases' in the README: CSV with a header row, or a JSON/YAML list of mappings."


ASSERT_PREFIX = "assert:"
"""CSV columns named ``assert:KIND`` hold that assertion's value (empty: none)."""


def _case(item: Any, index: int, source: str) -> TestCase:
    if not isinstance(item, dict):
        raise InputError(
            f"{source}: case {index + 1} is not a mapping of variable values", hint=HINT
        )
    where = f"{source}: case {index + 1}"
    data = dict(item)
    spec = data.pop("assert", None) or data.pop("assertions", None)
    assertions = parse_assertion_spec(spec, where) if spec else []
    short = {k[len(ASSERT_PREFIX) :]: v for k, v in data.items() if k.startswith(ASSERT_PREFIX)}
    given = {k: v for k, v in short.items() if v not in ("", None)}
    if given:
        assertions += parse_assertion_spec(given, where)
    for k in short:
        data.pop(ASSERT_PREFIX + k)
    name = str(data.pop("name", None) or f"case {index + 1}")
    values = data["values"] if isinstance(data.get("values"), dict) else data
    return TestCase(name=name, values=values, assertions=tuple(assertions))


def parse_cases(text: str, fmt: str, source: str = "cases") -> list[TestCase]:
    fmt = fmt.lower().lstrip(".")
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise InputError(f"{source}: the CSV has no header row", hint=HINT)
        twice = sorted({c for c in reader.fieldnames if reader.fieldnames.count(c) > 1})
        if twice:  # DictReader would keep only the last column of a name, silently
            raise InputError(
                f"{source}: the header names column {', '.join(map(repr, twice))} twice",
                hint="Give every column its own name.",
            )
        rows = []
        for i, row in enumerate(reader):
            if None in row:
                raise InputError(
                    f"{source}: row {i + 2} has more cells than the header has columns", hint=HINT
                )
            rows.append(row)
        data: Any = rows
    elif fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                hint=HINT,
            ) from exc
    else:
        import yaml  # ~30-100 ms: only for YAML case files

        try:
            data = load_yaml(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise InputError(f"{source}: invalid YAML{where}", hint=HINT) from exc
    if isinstance(data, dict) and "cases" in data:
        data = data["cases"]
    if not isinstance(data, list):
        raise InputError(f"{source}: expected a list of cases", hint=HINT)
    if not data:
        raise InputError(f"{source}: there are no cases in it", hint=HINT)
    lines = _case_lines(text) if fmt not in ("csv", "json") else {}
    cases = []
    for i, item in enumerate(data):
        try:
            cases.append(_case(item, i, source))
        except InputError as exc:
            if i not in lines:
                raise
            said = f"{source}: case {i + 1}"
            raise InputError(
                exc.message.replace(said, f"{source}, line {lines[i]}: case {i + 1}", 1),
                hint=exc.hint,
            ) from exc
    seen: dict[str, int] = {}
    for i, case in enumerate(cases):
        if case.name in seen:  # results, evidence and the grid name cases by their name
            raise InputError(
                f"{source}: cases {seen[case.name] + 1} and {i + 1} are both named {case.name!r}",
                hint="Give every case its own name.",
            )
        seen[case.name] = i
    return cases


def _case_lines(text: str) -> dict[int, int]:
    """Each case's first line (from 1) in a YAML case file (a list, or ``cases:``), so an
    error names the line as well as the case; empty when the text does not compose."""
    import yaml

    try:
        node: Any = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return {}
    if isinstance(node, yaml.MappingNode):
        node = next((v for k, v in node.value if getattr(k, "value", None) == "cases"), None)
    if not isinstance(node, yaml.SequenceNode):
        return {}
    return {i: int(item.start_mark.line) + 1 for i, item in enumerate(node.value)}


def read_cases(path: Path) -> list[TestCase]:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in {"csv", "json", "yaml", "yml"}:
        raise UsageError(
            f"{path}: unknown case file type {path.suffix!r}", hint="Use .csv, .json or .yaml"
        )
    text = read_text(path, "--cases")
    return parse_cases(text, "yaml" if fmt == "yml" else fmt, str(path))
