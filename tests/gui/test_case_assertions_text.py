"""The Test cases table's short form round-trips the newer assertion kinds."""

from __future__ import annotations

import pytest

from workbench.core.errors import InputError
from workbench.core.runs import TestCase
from workbench.ui.testcases import assertions_text, parse_assertions_text


def test_schema_similar_and_token_bounds_round_trip() -> None:
    typed = (
        'json_schema: {"type":"object","required":["status"]}; similar(0.7): refund sent; '
        "not_regex: sorry; max_tokens: 200; min_tokens: 3"
    )
    parsed = parse_assertions_text(typed)
    assert [a.type for a in parsed] == [
        "json_schema", "similar", "not_regex", "max_tokens", "min_tokens"
    ]  # fmt: skip
    assert parsed[0].value == {"type": "object", "required": ["status"]}
    assert parsed[1].threshold == 0.7
    again = parse_assertions_text(assertions_text(TestCase(name="c", assertions=parsed)))
    assert again == parsed


def test_a_broken_schema_or_threshold_says_what_to_write() -> None:
    with pytest.raises(InputError, match="not JSON"):
        parse_assertions_text("json_schema: {type: object}")
    with pytest.raises(InputError, match="threshold is not a number"):
        parse_assertions_text("similar(high): x")


def test_rubrics_round_trip_with_their_grader_scale_and_prompt() -> None:
    typed = (
        "rubric(oa:judge): The answer is polite; rubric(openai:gpt-4o-mini, 4/5): Mentions "
        'the refund; rubric: {"value":"Short; kind","model":"oa:judge","prompt":"Grade '
        '{{ output }}"}'
    )
    parsed = parse_assertions_text(typed)
    assert [(a.model, a.threshold, a.scale) for a in parsed] == [
        ("oa:judge", None, None), ("openai:gpt-4o-mini", 4.0, 5.0), ("oa:judge", None, None)
    ]  # fmt: skip
    assert parsed[0].value == "The answer is polite"
    assert parsed[2].prompt == "Grade {{ output }}" and parsed[2].value == "Short; kind"
    again = parse_assertions_text(assertions_text(TestCase(name="c", assertions=parsed)))
    assert again == parsed
    with pytest.raises(InputError, match="name its grader model"):
        parse_assertions_text("rubric: polite")
    with pytest.raises(InputError, match="needs a grader model"):
        parse_assertions_text('rubric: {"value": "polite"}')
