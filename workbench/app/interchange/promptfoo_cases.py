"""Reading a promptfoo configuration's files and tests: ``file://`` references (YAML or
JSON), ``tests`` and ``defaultTest`` as workbench cases, and promptfoo's assertions mapped
to the workbench's (what cannot map is reported). The prompts and providers, and the
import itself, are :mod:`.promptfoo`, built on :class:`CaseReader`.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from workbench.app.interchange.common import Report
from workbench.app.interchange.promptfoo_format import (
    HINT,
    LENGTH_JS,
    RUBRIC_THRESHOLD,
    SIMILAR_DEFAULT,
    first_error,
    map_provider,
)
from workbench.core.assertions import Assertion
from workbench.core.errors import InputError
from workbench.core.files import load_yaml, read_text
from workbench.core.runs import TestCase


class CaseReader:
    """One configuration's files and tests; what could not map goes to ``report``."""

    def __init__(self, path: Path, grader: str | None, report: Report) -> None:
        self.path = path
        self.base = path.parent
        self.grader = grader
        self.report = report

    def fail(self, what: str) -> InputError:
        return InputError(f"{self.path}: {what}", hint=HINT)

    def file_ref(self, ref: str) -> Path:
        return self.base / ref.removeprefix("file://")

    def load(self, ref: str) -> Any:
        path = self.file_ref(ref)
        text = read_text(path, "file://")
        if path.suffix.lower() == ".json":
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}", hint=HINT
                ) from exc
        return parse_yaml(text, str(path))

    # tests
    def tests(self, spec: Any, default: Mapping[str, Any]) -> list[TestCase]:
        if spec is None:
            return []
        if isinstance(spec, str):
            if not spec.startswith("file://") or spec.endswith(".csv"):
                raise self.fail(
                    f"tests {spec!r}: only a list, or a file:// YAML or JSON list, is read"
                )
            spec = self.load(spec)
        if not isinstance(spec, list):
            raise self.fail("'tests' must be a list of test cases")
        cases: list[TestCase] = []
        seen: set[str] = set()
        for i, test in enumerate(spec, start=1):
            if isinstance(test, str) and test.startswith("file://"):
                loaded = self.load(test)
                tests = loaded if isinstance(loaded, list) else [loaded]
            else:
                tests = [test]
            for t in tests:
                for case in self.case(t, i, default):
                    name, n = case.name, 2
                    while case.name in seen:
                        case = case.model_copy(update={"name": f"{name} ({n})"})
                        n += 1
                    seen.add(case.name)
                    cases.append(case)
        return cases

    def case(self, test: Any, index: int, default: Mapping[str, Any]) -> list[TestCase]:
        if not isinstance(test, dict):
            raise self.fail(f"test {index} is not a mapping (vars, assert)")
        name = str(test.get("description") or f"case {index}")
        for where, part in (("defaultTest", default), (f"test {index}", test)):
            for key, kind in (("vars", dict), ("options", dict), ("assert", list)):
                if part.get(key) is not None and not isinstance(part[key], kind):
                    what = "a mapping" if kind is dict else "a list"
                    raise self.fail(f"{where}: '{key}' must be {what}")
        values = {**(default.get("vars") or {}), **(test.get("vars") or {})}
        for key, value in list(values.items()):
            if isinstance(value, str) and value.startswith("file://"):
                if value.endswith((".py", ".js")):
                    self.report.skipped.append(f"{name}: var {key} comes from code: left as text")
                else:
                    values[key] = read_text(self.file_ref(value), "file://")
        if test.get("threshold") is not None:
            self.report.notes.append(
                f"{name}: its threshold (a share of weighted checks) is not kept: every "
                "check must pass"
            )
        options = {**(default.get("options") or {}), **(test.get("options") or {})}
        specs = [*(default.get("assert") or []), *(test.get("assert") or [])]
        assertions: list[Assertion] = []
        for spec in specs:
            assertions.extend(self.assertion(spec, name, options))
        lists = {k: v for k, v in values.items() if isinstance(v, list)}
        if not lists:
            return [TestCase(name=name, values=values, assertions=tuple(assertions))]
        out = []  # promptfoo makes one test per value of a var that holds a list
        for combo in itertools.product(*lists.values()):
            chosen = dict(zip(lists, combo, strict=True))
            label = ", ".join(f"{k}={v}" for k, v in chosen.items())
            out.append(
                TestCase(
                    name=f"{name} [{label}]",
                    values={**values, **chosen},
                    assertions=tuple(assertions),
                )
            )
        self.report.notes.append(f"{name}: a var holding a list became {len(out)} cases")
        return out

    def assertion(self, spec: Any, case: str, options: Mapping[str, Any]) -> list[Assertion]:
        kind = spec.get("type") if isinstance(spec, dict) else None
        if not isinstance(kind, str):
            self.report.skipped.append(f"{case}: an assertion without a type: skipped")
            return []
        if spec.get("transform"):
            self.report.skipped.append(f"{case}: {kind} with a transform (runs code): skipped")
            return []
        if spec.get("weight") not in (None, 1, 1.0):
            self.report.notes.append(
                f"{case}: {kind} weight ignored: every workbench check must pass"
            )
        value, threshold = spec.get("value"), spec.get("threshold")
        try:
            made = self._assertion(kind, value, threshold, spec, options)
        except (ValidationError, ValueError) as exc:
            self.report.skipped.append(f"{case}: {kind}: {first_error(exc)}: skipped")
            return []
        if made is None:
            why = "runs code" if kind in ("javascript", "python") else "no workbench equivalent"
            self.report.skipped.append(f"{case}: {kind} ({why}): skipped")
            return []
        if isinstance(made, str):
            self.report.skipped.append(f"{case}: {kind}: {made}: skipped")
            return []
        return made

    def _assertion(
        self,
        kind: str,
        value: Any,
        threshold: Any,
        spec: Mapping[str, Any],
        options: Mapping[str, Any],
    ) -> list[Assertion] | str | None:
        simple = {
            "contains": ("contains", False),
            "icontains": ("contains", True),
            "not-contains": ("not_contains", False),
            "not-icontains": ("not_contains", True),
            "starts-with": ("starts_with", False),
            "regex": ("regex", False),
            "not-regex": ("not_regex", False),
            "equals": ("equals", False),
        }
        if kind in simple:
            ours, case = simple[kind]
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                return "needs a text value"
            return [Assertion(type=ours, value=str(value), ignore_case=case)]
        if kind in ("contains-all", "icontains-all"):
            if not isinstance(value, list) or not value:
                return "needs a list of values"
            case = kind.startswith("i")
            return [Assertion(type="contains", value=str(v), ignore_case=case) for v in value]
        if kind in ("contains-any", "icontains-any"):
            if not isinstance(value, list) or not value:
                return "needs a list of values"
            pattern = "(?:" + "|".join(re.escape(str(v)) for v in value) + ")"
            return [Assertion(type="regex", value=("(?i)" if kind[0] == "i" else "") + pattern)]
        if kind in ("is-json", "contains-json"):
            schema = (
                self.load(value)
                if isinstance(value, str) and value.startswith("file://")
                else value
            )
            if kind == "contains-json":
                self.report.notes.append(
                    "contains-json became json: the whole answer must be JSON, not just hold it"
                )
            return [_json_assertion(schema)]
        if kind == "similar":
            if not isinstance(value, str):
                return "needs one reference text"
            limit = SIMILAR_DEFAULT if threshold is None else float(threshold)
            return [Assertion(type="similar", value=value, threshold=limit)]
        if kind == "llm-rubric":
            grader = self.grader_for(spec.get("provider") or options.get("provider"))
            if grader is None:
                return "no grader model (give the assertion a provider, or --grader)"
            prompt = spec.get("rubricPrompt") or options.get("rubricPrompt")
            if prompt is not None and not isinstance(prompt, str):
                self.report.notes.append("a rubricPrompt that is not text was left out")
                prompt = None
            limit = RUBRIC_THRESHOLD if threshold is None else float(threshold)
            return [
                Assertion(
                    type="rubric",
                    value=value,
                    model=grader,
                    scale=1,
                    threshold=limit,
                    prompt=prompt,
                )
            ]
        if kind in ("cost", "latency"):
            if threshold is None:
                return "needs a threshold"
            ours = "max_cost_usd" if kind == "cost" else "max_latency_ms"
            return [Assertion(type=ours, value=threshold)]
        if kind == "finish-reason":
            return [Assertion(type="finish_reason", value=value)]
        if kind == "javascript" and isinstance(value, str):
            found = LENGTH_JS.match(value)
            if found:
                return [Assertion(type="max_chars", value=int(found.group(1)))]
        return None

    def grader_for(self, provider: Any) -> str | None:
        if isinstance(provider, dict):
            provider = provider.get("id")
        if isinstance(provider, str):
            ref = map_provider(provider)
            if ref is None:
                self.report.skipped.append(f"grader {provider}: not mapped")
                return self.grader
            return ref
        return self.grader


def _json_assertion(schema: Any) -> Assertion:
    if schema is None:
        return Assertion(type="json")
    if (
        isinstance(schema, dict)
        and set(schema) == {"type", "required"}
        and schema["type"] == "object"
        and isinstance(schema["required"], list)
    ):
        return Assertion(type="json", value=[str(k) for k in schema["required"]])
    return Assertion(type="json_schema", value=schema)


def parse_yaml(text: str, where: str) -> Any:
    """``text`` (of ``where``) as YAML; an error says the line and column."""
    import yaml

    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"{where}: invalid YAML{at}", hint=HINT) from exc
