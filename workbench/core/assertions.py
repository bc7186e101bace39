"""Assertions on a model's answer: what makes a test case pass or fail.

A test case may carry assertions; the engine checks every finished cell against
its case's assertions and records each result on the cell, so pass/fail is part of
the run log, the grid, the CI gate (``workbench eval``) and review evidence.

String values may use the case's variables (``{{ order_id }}``), rendered in the
same sandbox as prompts. Kinds:

========================  ==========================================================
``contains``              the answer contains ``value`` (``ignore_case`` optional)
``not_contains``          the answer does not contain ``value``
``equals``                the answer, stripped, equals ``value``
``starts_with``           the answer, stripped, starts with ``value``
``regex``                 ``regex.search(value, answer)`` finds a match within
                          ``REGEX_TIMEOUT_S``; a pattern that backtracks past it
                          fails with a message, never hangs the run
``not_regex``             no match for ``value`` (within ``REGEX_TIMEOUT_S``; a search
                          that times out fails: nothing was shown absent)
``json``                  the answer is JSON; ``value`` may list keys it must have
``json_schema``           the answer is JSON valid against the JSON Schema ``value``
                          (a mapping, stored with the case; Draft 2020-12 unless it
                          names another ``$schema``)
                          Both take an optional ``path`` (``order.items.0.sku``: keys
                          and list indexes, dot-separated): the answer must have a
                          value there, and the keys or the schema apply to it
``similar``               the answer is at least ``threshold`` (0-1, default 0.8) like
                          ``value``, the reference output: rapidfuzz's normalised
                          Indel similarity of the two texts, whitespace runs as one
``max_chars``             the answer has at most ``value`` characters
``min_tokens``            the answer has at least ``value`` output tokens
``max_tokens``            the answer has at most ``value`` output tokens (the count the
                          provider reported, or the estimate the cell records)
``finish_reason``         the call finished with ``value`` (e.g. ``stop``)
``max_latency_ms``        total latency at most ``value`` ms
``max_ttft_ms``           time to first token at most ``value`` ms
``max_cost_usd``          the call cost at most ``value`` USD (unknown cost fails)
``rubric``                a model-graded check: the grader ``model`` (``PROFILE:MODEL``)
                          scores the answer against the rubric ``value`` from 0 to
                          ``scale`` (default 10); it passes at ``threshold`` or more
                          (default 70% of the scale). ``prompt`` overrides the grading
                          prompt (:mod:`workbench.core.rubric`). Graded by the engine,
                          which makes the call; :func:`check` alone cannot.
========================  ==========================================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.core.errors import InputError, RenderError, TemplateError

AssertionKind = Literal[
    "contains",
    "not_contains",
    "equals",
    "starts_with",
    "regex",
    "not_regex",
    "json",
    "json_schema",
    "similar",
    "max_chars",
    "min_tokens",
    "max_tokens",
    "finish_reason",
    "max_latency_ms",
    "max_ttft_ms",
    "max_cost_usd",
    "rubric",
]
KINDS: tuple[str, ...] = AssertionKind.__args__  # type: ignore[attr-defined]
_NUMERIC = {
    "max_chars",
    "min_tokens",
    "max_tokens",
    "max_latency_ms",
    "max_ttft_ms",
    "max_cost_usd",
}
SIMILAR_THRESHOLD = 0.8
RUBRIC_SCALE = 10.0
RUBRIC_PASS_SHARE = 0.7
"""A rubric without a threshold passes at 70% of its scale (7 of 10)."""

REGEX_TIMEOUT_S = 0.25
"""Longest a ``regex`` assertion may search one answer. The ``regex`` package stops a
search at its timeout (Python's ``re`` cannot), so a pattern such as ``(a|aa)+$``
that backtracks exponentially fails its check instead of hanging ``eval``."""


FINISH_REASONS = ("stop", "length", "content_filter", "tool_calls", "other")
"""Why an answer ended, as every provider family is normalised to (the providers'
``FinishReason``; a test keeps the two the same)."""


class Assertion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: AssertionKind
    value: Any = None
    ignore_case: bool = False
    threshold: float | None = None
    """For ``similar``: the least similarity that passes (0-1). For ``rubric``: the least
    score that passes, on its scale."""
    model: str | None = None
    """For ``rubric``: the grader, ``PROFILE:MODEL`` as ``--models`` names models."""
    scale: float | None = None
    """For ``rubric``: the highest score (scores run from 0 to it; default 10)."""
    prompt: str | None = None
    """For ``rubric``: the grading prompt (Jinja), instead of the default one."""
    path: str | None = Field(default=None, min_length=1, max_length=500)
    """For ``json`` and ``json_schema``: where in the answer's JSON the check applies
    (dot-separated keys and list indexes, e.g. ``order.items.0.sku``)."""

    def model_post_init(self, _context: Any) -> None:
        if self.type in _NUMERIC:
            if isinstance(self.value, bool) or not isinstance(self.value, int | float):
                try:
                    object.__setattr__(self, "value", float(self.value))
                except (TypeError, ValueError):
                    raise ValueError(
                        f"assertion {self.type} needs a number, not {self.value!r}"
                    ) from None
            if not 0 <= self.value < float("inf"):  # NaN fails this too
                raise ValueError(
                    f"assertion {self.type} needs a limit of 0 or more, not {self.value!r}"
                )
        elif self.type == "json":
            if self.value is not None and not (
                isinstance(self.value, list) and all(isinstance(k, str) for k in self.value)
            ):
                raise ValueError("assertion json takes a list of required keys, or nothing")
        elif self.type == "json_schema":
            if isinstance(self.value, str):  # a CSV cell, or typed: the schema as JSON
                try:
                    object.__setattr__(self, "value", json.loads(self.value))
                except json.JSONDecodeError as exc:
                    raise ValueError(
                        f"assertion json_schema: the schema is not JSON ({exc.msg})"
                    ) from None
            _check_schema(self.value)
        elif not isinstance(self.value, str) or self.value == "":
            raise ValueError(f"assertion {self.type} needs a non-empty text value")
        if self.type == "rubric":
            self._check_rubric()
        else:
            for name in ("model", "scale", "prompt"):
                if getattr(self, name) is not None:
                    raise ValueError(f"assertion {self.type} takes no {name} (only rubric does)")
        if (
            self.threshold is not None
            and self.type != "rubric"  # on its own scale, checked above
            and (self.type != "similar" or not 0 <= self.threshold <= 1)
        ):
            raise ValueError(
                "threshold is for a similar assertion, from 0 to 1 (e.g. 0.8)"
                if self.type == "similar"
                else f"assertion {self.type} takes no threshold (only similar and rubric do)"
            )
        if self.type == "finish_reason" and self.value not in FINISH_REASONS:
            raise ValueError(
                f"assertion finish_reason {self.value!r} is not a reason an answer ends with; "
                f"use one of {', '.join(FINISH_REASONS)}"
            )
        if self.type in ("regex", "not_regex"):
            import regex  # on first use: ~25 ms of every start otherwise

            try:
                regex.compile(self.value)
            except regex.error as exc:
                raise ValueError(
                    f"assertion regex {self.value!r} does not compile: {exc}"
                ) from None

    def describe(self) -> str:
        at = f" at {self.path}" if self.path else ""
        if self.type == "json":
            keys = f" with keys {', '.join(self.value)}" if self.value else ""
            return "is JSON" + (f" with a value at {self.path}" if self.path else "") + keys
        if self.type == "json_schema" and self.path:
            title = self.value.get("title") if isinstance(self.value, dict) else None
            return f"JSON{at} matches the JSON Schema" + (f" {title!r}" if title else "")
        if self.type == "rubric":
            shown = self.value if len(self.value) <= 40 else self.value[:37] + "..."
            return (
                f"rubric {shown!r} (>= {self.rubric_threshold:g}/{self.rubric_scale:g} "
                f"by {self.model})"
            )
        if self.type == "json_schema":
            title = self.value.get("title") if isinstance(self.value, dict) else None
            return "matches the JSON Schema" + (f" {title!r}" if title else "")
        if self.type == "similar":
            shown = self.value if len(self.value) <= 40 else self.value[:37] + "..."
            return f"similar to {shown!r} (>= {self.similar_threshold:.0%})"
        return f"{self.type.replace('_', ' ')} {self.value!r}"

    @property
    def similar_threshold(self) -> float:
        return SIMILAR_THRESHOLD if self.threshold is None else self.threshold

    @property
    def rubric_scale(self) -> float:
        return RUBRIC_SCALE if self.scale is None else self.scale

    @property
    def rubric_threshold(self) -> float:
        """The least passing score: the one given, else 70% of the scale."""
        if self.threshold is not None:
            return self.threshold
        return round(self.rubric_scale * RUBRIC_PASS_SHARE, 6)

    def _check_rubric(self) -> None:
        from workbench.core.models import split_model_ref

        if not self.model:
            raise ValueError(
                "assertion rubric needs a grader model, e.g. "
                "{type: rubric, value: 'is polite', model: 'openai:gpt-4o-mini'}"
            )
        split_model_ref(self.model)  # ValueError saying the PROFILE:MODEL rule
        scale = self.rubric_scale
        if isinstance(scale, bool) or not 0 < scale < float("inf"):
            raise ValueError(f"assertion rubric needs a scale above 0, not {self.scale!r}")
        if not 0 <= self.rubric_threshold <= scale:  # NaN fails this too
            raise ValueError(
                f"assertion rubric threshold {self.rubric_threshold:g} is not a score from 0 to "
                f"{scale:g} (its scale)"
            )
        if self.prompt is not None and not self.prompt.strip():
            raise ValueError("assertion rubric prompt is empty; leave it out for the default")


def _check_schema(schema: Any) -> None:
    """A JSON Schema that its own metaschema accepts; else ValueError saying why."""
    import jsonschema

    if not isinstance(schema, dict):
        raise ValueError("assertion json_schema takes a JSON Schema (a mapping)")
    try:
        jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator).check_schema(
            schema
        )
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "the top"
        raise ValueError(f"assertion json_schema is not a valid schema at {where}: "
                         f"{exc.message}") from None  # fmt: skip


class CheckResult(BaseModel):
    """One assertion checked against one cell."""

    model_config = ConfigDict(frozen=True)

    assertion: Assertion
    passed: bool
    detail: str = ""
    score: float | None = None
    """For ``rubric``: the grader's score (None when it gave none)."""
    reason: str = ""
    """For ``rubric``: the grader's reason for its score."""
    grader: str | None = None
    """For ``rubric``: the model that graded (``PROFILE:MODEL``)."""
    grader_cost_usd: float | None = None
    """For ``rubric``: what the grading call cost (None: unknown or not made). Not part of
    the graded cell's own ``cost_usd``."""
    grader_error: bool = False
    """For ``rubric``: the grade could not be had (the grader failed or was refused), so
    the answer was not judged."""


def _expected(assertion: Assertion, values: Mapping[str, Any]) -> Any:
    value = assertion.value
    if isinstance(value, str) and "{{" in value:
        from workbench.core.sandbox import render_template

        try:
            return render_template(value, values, where=f"assertion {assertion.type}")
        except (RenderError, TemplateError) as exc:
            raise InputError(
                f"assertion {assertion.type} {value!r} cannot be rendered: {exc.message}",
                hint="Use only the case's variables in assertion values.",
            ) from exc
    return value


def check(
    assertion: Assertion,
    output: str,
    *,
    values: Mapping[str, Any] | None = None,
    finish_reason: str | None = None,
    latency_ms: float | None = None,
    ttft_ms: float | None = None,
    cost_usd: float | None = None,
    output_tokens: int | None = None,
) -> CheckResult:
    """Check ``assertion`` against one answer and its readouts."""
    kind = assertion.type
    try:
        expected = _expected(assertion, values or {})
    except InputError as exc:
        return CheckResult(assertion=assertion, passed=False, detail=exc.message)
    text, want = output, expected
    if assertion.ignore_case and isinstance(want, str):
        text, want = text.lower(), want.lower()

    def result(ok: bool, detail: str = "") -> CheckResult:
        return CheckResult(assertion=assertion, passed=ok, detail="" if ok else detail)

    if kind == "contains":
        return result(want in text, f"the answer does not contain {expected!r}")
    if kind == "not_contains":
        return result(want not in text, f"the answer contains {expected!r}")
    if kind == "equals":
        return result(text.strip() == str(want).strip(), f"the answer is not {expected!r}")
    if kind == "starts_with":
        return result(text.strip().startswith(want), f"the answer does not start with {expected!r}")
    if kind == "regex":
        return _check_regex(assertion, str(expected), output)
    if kind == "not_regex":
        found = _check_regex(assertion, str(expected), output)
        if found.passed:
            return result(False, f"/{expected}/ matches the answer")
        if found.detail.startswith("no match"):
            return result(True)
        return found  # did not compile, or timed out: not shown absent
    if kind == "json_schema":
        return _check_json_schema(assertion, output)
    if kind == "similar":
        return _check_similar(assertion, str(expected), output)
    if kind == "rubric":  # graded by the engine (it makes the grader's call)
        return result(False, "not graded: a rubric is graded by a model call the engine makes")
    if kind in ("min_tokens", "max_tokens"):
        if output_tokens is None:
            return result(False, "output tokens unknown")
        if kind == "min_tokens":
            return result(output_tokens >= expected, f"{output_tokens} tokens < {expected:g}")
        return result(output_tokens <= expected, f"{output_tokens} tokens > {expected:g}")
    if kind == "json":
        try:
            data = json.loads(output)
        except json.JSONDecodeError as exc:
            return result(False, f"the answer is not JSON ({exc.msg} at {exc.pos})")
        if assertion.path:
            there, data = json_at(data, assertion.path)
            if not there:
                return result(False, f"the JSON has nothing at {assertion.path}")
        missing = [k for k in expected or [] if not (isinstance(data, dict) and k in data)]
        return result(not missing, f"the JSON lacks {', '.join(missing)}")
    if kind == "max_chars":
        return result(len(output) <= expected, f"{len(output)} characters > {expected:g}")
    if kind == "finish_reason":
        return result(finish_reason == expected, f"finished with {finish_reason!r}")
    measured = {"max_latency_ms": latency_ms, "max_ttft_ms": ttft_ms, "max_cost_usd": cost_usd}[
        kind
    ]
    if measured is None:
        return result(False, f"{kind.removeprefix('max_')} unknown")
    return result(measured <= expected, f"{measured:g} > {expected:g}")


def _check_regex(assertion: Assertion, pattern: str, output: str) -> CheckResult:
    import regex

    flags = regex.IGNORECASE if assertion.ignore_case else 0
    try:
        found = regex.search(pattern, output, flags, timeout=REGEX_TIMEOUT_S)
    except regex.error as exc:  # a pattern that only fails once its variables are filled in
        return CheckResult(
            assertion=assertion, passed=False, detail=f"/{pattern}/ does not compile: {exc}"
        )
    except TimeoutError:
        return CheckResult(
            assertion=assertion,
            passed=False,
            detail=(
                f"/{pattern}/ did not finish within {REGEX_TIMEOUT_S:g} s on this "
                f"{len(output):,}-character answer (it backtracks too much); simplify it, "
                "e.g. write (a+)+ as a+"
            ),
        )
    ok = found is not None
    return CheckResult(
        assertion=assertion, passed=ok, detail="" if ok else f"no match for /{pattern}/"
    )


def json_at(data: Any, path: str) -> tuple[bool, Any]:
    """The value at ``path`` (dot-separated keys and list indexes) and whether it is there."""
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif (
            isinstance(data, list)
            and part.lstrip("-").isdigit()
            and -len(data) <= int(part) < len(data)
        ):
            data = data[int(part)]
        else:
            return False, None
    return True, data


def _check_json_schema(assertion: Assertion, output: str) -> CheckResult:
    import jsonschema

    def result(ok: bool, detail: str = "") -> CheckResult:
        return CheckResult(assertion=assertion, passed=ok, detail="" if ok else detail)

    try:
        data = json.loads(output)
    except json.JSONDecodeError as exc:
        return result(False, f"the answer is not JSON ({exc.msg} at {exc.pos})")
    if assertion.path:
        found, data = json_at(data, assertion.path)
        if not found:
            return result(False, f"the JSON has nothing at {assertion.path}")
    schema = assertion.value
    validator = jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator)
    errors = sorted(validator(schema).iter_errors(data), key=lambda e: list(e.path))
    if not errors:
        return result(True)
    first = errors[0]
    at = "/".join(str(p) for p in first.path) or "the top"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return result(False, f"at {at}: {first.message}{more}")


SIMILAR_MAX_CHARS = 100_000
"""Texts longer than this are compared by their first this-many characters (the
distance is quadratic-ish in the worst case; an answer is rarely that long)."""


def _check_similar(assertion: Assertion, reference: str, output: str) -> CheckResult:
    from rapidfuzz.distance import Indel

    def squash(text: str) -> str:
        text = " ".join(text.split())
        return text.lower() if assertion.ignore_case else text

    score = Indel.normalized_similarity(
        squash(output)[:SIMILAR_MAX_CHARS], squash(reference)[:SIMILAR_MAX_CHARS]
    )
    need = assertion.similar_threshold
    ok = score >= need
    return CheckResult(
        assertion=assertion,
        passed=ok,
        detail="" if ok else f"{score:.0%} like the reference, needs {need:.0%}",
    )


def parse_assertion_spec(spec: Any, where: str) -> list[Assertion]:
    """Assertions from a case file: a list of ``{type, value}`` mappings, or the short
    form ``{contains: refund, max_chars: 400}``. Raises ``InputError`` naming ``where``."""
    from pydantic import ValidationError

    items: list[Any]
    if isinstance(spec, dict):
        items = [{"type": k, "value": v} for k, v in spec.items()]
    elif isinstance(spec, list):
        items = spec
    else:
        raise InputError(f"{where}: assertions must be a list or a mapping", hint=_HINT)
    out = []
    for item in items:
        try:
            out.append(Assertion.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            kind = item.get("type") if isinstance(item, dict) else None
            if first.get("type") == "literal_error" and first.get("loc") == ("type",):
                raise InputError(f"{where}: unknown assertion kind {kind!r}", hint=_HINT) from exc
            field = ".".join(str(p) for p in first.get("loc", ()))
            what = f" ({kind}{', ' + field if field and field != 'type' else ''})" if kind else ""
            raise InputError(f"{where}{what}: {first['msg']}", hint=_HINT) from exc
    return out


_HINT = f"Assertion kinds: {', '.join(KINDS)}. See 'Test cases' in the README."
