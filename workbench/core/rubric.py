"""The ``rubric`` assertion's pure half: the grading prompt and reading the grade.

A rubric is graded by another model call (the engine makes it, through the same
provider layer, budgets and run log as any call). What is sent and how the answer
is read lives here, so it is tested without a network and is the same wherever a
rubric is graded:

- The grader gets a fixed system message (reply with one JSON object
  ``{"score": N, "reason": "..."}``, N from 0 to the scale) and a user message: the
  default :data:`DEFAULT_GRADING_PROMPT`, or the assertion's own ``prompt``. Either is a
  Jinja template rendered in the prompts' sandbox with ``rubric``, ``output`` (the
  answer graded), ``input`` (the user messages the graded call sent), ``scale`` and
  the case's variables. The answer is a variable, never template source, so an answer
  cannot inject template code.
- The grade is read leniently (a code fence, prose around the object, a score written
  as ``"8"`` or ``"8/10"``) but never guessed: no JSON object with a number ``score``
  within the scale is a clear failure that quotes the start of what the grader said.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.core.assertions import Assertion
from workbench.core.errors import InputError, RenderError, TemplateError

GRADER_SYSTEM = (
    "You are a strict, fair grader. You judge one answer against a rubric. Reply with "
    "exactly one JSON object and nothing else: "
    '{{"score": <a number from 0 to {scale:g}>, "reason": "<one short sentence>"}}. '
    "0 means the answer fails the rubric entirely, {scale:g} that it meets it fully."
)
"""Always sent, whatever the prompt: it fixes the format the grade is read in."""

DEFAULT_GRADING_PROMPT = """\
Rubric:
{{ rubric }}

The request the answer replies to:
<request>
{{ input }}
</request>

The answer to grade:
<answer>
{{ output }}
</answer>

Score the answer against the rubric from 0 to {{ scale }}. Reply with the JSON object only."""

GRADER_MAX_TOKENS = 300
"""A grade is a number and a sentence; this bounds what a talkative grader costs."""

QUOTE_CHARS = 80


@dataclass(frozen=True)
class Grade:
    score: float
    reason: str


class GradeUnreadable(ValueError):
    """The grader's answer holds no usable grade; the message says what it said."""


def grading_messages(
    assertion: Assertion,
    output: str,
    *,
    values: Mapping[str, Any],
    sent: Sequence[Mapping[str, str]],
) -> list[dict[str, str]]:
    """The grader's messages (role, content) for ``output`` graded by ``assertion``.

    ``sent`` is what the graded call sent (its rendered messages). Raises ``InputError``
    when the rubric or its prompt does not render (a typo'd variable, bad syntax)."""
    from workbench.core.sandbox import render_template

    scale = assertion.rubric_scale
    where = "assertion rubric"
    try:
        rubric = str(assertion.value)
        if "{{" in rubric or "{%" in rubric:
            rubric = render_template(rubric, values, where=where)
        context = {
            **values,
            "rubric": rubric,
            "output": output,
            "input": "\n\n".join(m.get("content", "") for m in sent if m.get("role") == "user"),
            "scale": f"{scale:g}",
        }
        user = render_template(assertion.prompt or DEFAULT_GRADING_PROMPT, context, where=where)
    except (RenderError, TemplateError) as exc:
        raise InputError(
            f"assertion rubric cannot render its grading prompt: {exc.message}",
            hint="Use only rubric, output, input, scale and the case's variables in it.",
        ) from exc
    return [
        {"role": "system", "content": GRADER_SYSTEM.format(scale=scale)},
        {"role": "user", "content": user},
    ]


# The standard library's re: these two patterns need nothing of the regex package, whose
# import (~12 ms) every run paid for them.
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_NUMBER = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*(?:/\s*\d+(?:\.\d+)?)?\s*$")


def _objects(text: str) -> list[Any]:
    """Every JSON object in ``text``: the whole text, fenced blocks, then each ``{``."""
    found: list[Any] = []
    candidates = [text.strip(), *(m.group(1).strip() for m in _FENCE.finditer(text))]
    for candidate in candidates:
        with contextlib.suppress(json.JSONDecodeError):
            found.append(json.loads(candidate))
    decoder = json.JSONDecoder()
    for start in (i for i, ch in enumerate(text) if ch == "{"):
        try:
            value, _end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        found.append(value)
    return [v for v in found if isinstance(v, dict)]


def _score(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = _NUMBER.match(value)
        return float(m.group(1)) if m else None
    return None


def quote(text: str) -> str:
    shown = " ".join(text.split())
    if len(shown) > QUOTE_CHARS:
        shown = shown[: QUOTE_CHARS - 1] + "…"
    return repr(shown) if shown else "nothing"


def parse_grade(text: str, scale: float) -> Grade:
    """The grade in the grader's answer. Raises :class:`GradeUnreadable` when it has no
    JSON object with a numeric ``score`` from 0 to ``scale``."""
    objects = _objects(text)
    scored = [o for o in objects if "score" in o]
    if not scored:
        what = "no JSON object with a score" if objects or "{" in text else "no JSON object"
        raise GradeUnreadable(f"the grader's answer has {what}: it said {quote(text)}")
    grade = scored[0]
    score = _score(grade["score"])
    if score is None:
        raise GradeUnreadable(f"the grader's score {grade['score']!r} is not a number")
    if not 0 <= score <= scale:
        raise GradeUnreadable(f"the grader's score {score:g} is outside 0 to {scale:g}")
    reason = grade.get("reason", "")
    return Grade(score=score, reason=reason.strip() if isinstance(reason, str) else str(reason))
