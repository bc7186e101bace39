"""The rubric assertion's pure half: its validation, the grading prompt, reading a grade."""

from __future__ import annotations

import pytest

from workbench.core.assertions import Assertion, check, parse_assertion_spec
from workbench.core.errors import InputError
from workbench.core.rubric import GradeUnreadable, grading_messages, parse_grade


def test_a_rubric_needs_a_grader_and_a_sane_scale() -> None:
    with pytest.raises(InputError, match="needs a grader model"):
        parse_assertion_spec([{"type": "rubric", "value": "polite"}], "case 1")
    with pytest.raises(InputError, match="PROFILE:MODEL"):
        parse_assertion_spec([{"type": "rubric", "value": "polite", "model": "gpt"}], "case 1")
    with pytest.raises(InputError, match="threshold 12 is not a score from 0 to 10"):
        parse_assertion_spec(
            [{"type": "rubric", "value": "polite", "model": "oa:m", "threshold": 12}], "case 1"
        )
    with pytest.raises(InputError, match="scale above 0"):
        parse_assertion_spec([{"type": "rubric", "value": "x", "model": "oa:m", "scale": 0}], "c")
    with pytest.raises(InputError, match="takes no model"):
        parse_assertion_spec([{"type": "contains", "value": "x", "model": "oa:m"}], "c")
    a = Assertion(type="rubric", value="polite", model="oa:m", scale=5)
    assert a.rubric_threshold == 3.5 and a.rubric_scale == 5
    assert a.describe() == "rubric 'polite' (>= 3.5/5 by oa:m)"
    # Checked alone (without the engine's grading call) a rubric never passes.
    result = check(a, "anything")
    assert not result.passed and "not graded" in result.detail


def test_the_grading_prompt_fills_rubric_answer_and_request() -> None:
    a = Assertion(type="rubric", value="Mentions order {{ order }}.", model="oa:m", scale=5)
    system, user = grading_messages(
        a,
        "Your order {{ 7 * 7 }} left today.",
        values={"order": 42},
        sent=[{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Where?"}],
    )
    assert '"score": <a number from 0 to 5>' in system["content"]
    assert "Mentions order 42." in user["content"]
    assert "Your order {{ 7 * 7 }} left today." in user["content"]  # data, never template
    assert "Where?" in user["content"] and "Be kind." not in user["content"]
    own = a.model_copy(update={"prompt": "Grade {{ output }} for {{ rubric }} ({{ order }})"})
    _, user = grading_messages(own, "hi", values={"order": 1}, sent=[])
    assert user["content"] == "Grade hi for Mentions order 1. (1)"
    broken = a.model_copy(update={"prompt": "Grade {{ nothing_like_this }}"})
    with pytest.raises(InputError, match="cannot render its grading prompt"):
        grading_messages(broken, "hi", values={}, sent=[])


@pytest.mark.parametrize(
    ("text", "score", "reason"),
    [
        ('{"score": 8, "reason": "good"}', 8, "good"),
        ('```json\n{"score": 7.5, "reason": "fine"}\n```', 7.5, "fine"),
        ('Here is my grade: {"reason": "ok", "score": "9/10"} Thanks!', 9, "ok"),
        ('{"score": 0}', 0, ""),
    ],
)
def test_grades_are_read_leniently(text: str, score: float, reason: str) -> None:
    grade = parse_grade(text, 10)
    assert grade.score == score and grade.reason == reason


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Looks great to me.", "has no JSON object: it said 'Looks great to me.'"),
        ('{"verdict": "pass"}', "has no JSON object with a score"),
        ('{"score": "high"}', "score 'high' is not a number"),
        ('{"score": 11}', "score 11 is outside 0 to 10"),
        ('{"score": -1}', "score -1 is outside 0 to 10"),
        ('{"score": true}', "score True is not a number"),
        ("", "it said nothing"),
    ],
)
def test_unreadable_grades_say_what_the_grader_said(text: str, message: str) -> None:
    with pytest.raises(GradeUnreadable, match="the grader's"):
        parse_grade(text, 10)
    with pytest.raises(GradeUnreadable) as info:
        parse_grade(text, 10)
    assert message in str(info.value)
