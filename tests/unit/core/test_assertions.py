from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.core.assertions import Assertion, check, parse_assertion_spec
from workbench.core.cases import parse_cases
from workbench.core.errors import InputError


@pytest.mark.parametrize(
    ("kind", "value", "output", "passed"),
    [
        ("contains", "refund", "Your refund is on its way", True),
        ("contains", "Refund", "your refund", False),
        ("not_contains", "sorry", "We are sorry", False),
        ("equals", "yes", "  yes\n", True),
        ("starts_with", "Dear", "Dear Ada,", True),
        ("regex", r"order \d{4}", "about order 1182", True),
        ("regex", r"^\d+$", "12a", False),
        ("json", None, '{"a": 1}', True),
        ("json", ["a", "b"], '{"a": 1}', False),
        ("json", None, "not json", False),
        ("max_chars", 5, "123456", False),
    ],
)
def test_text_assertions(kind: str, value: object, output: str, passed: bool) -> None:
    result = check(Assertion(type=kind, value=value), output)  # type: ignore[arg-type]
    assert result.passed is passed
    assert bool(result.detail) is not passed


def test_case_variables_and_ignore_case() -> None:
    a = Assertion(type="contains", value="order {{ order_id }}", ignore_case=True)
    assert check(a, "About ORDER 42.", values={"order_id": 42}).passed
    missing = check(a, "About order 42.", values={})
    assert not missing.passed
    assert "order_id" in missing.detail


def test_readout_assertions() -> None:
    assert check(Assertion(type="max_latency_ms", value=500), "", latency_ms=420).passed
    assert not check(Assertion(type="max_ttft_ms", value="100"), "", ttft_ms=150).passed
    unknown = check(Assertion(type="max_cost_usd", value=0.01), "", cost_usd=None)
    assert not unknown.passed
    assert "unknown" in unknown.detail
    assert check(Assertion(type="finish_reason", value="stop"), "", finish_reason="stop").passed


@pytest.mark.parametrize(
    "spec",
    [{"type": "regex", "value": "("}, {"type": "max_chars", "value": "many"},
     {"type": "contains", "value": ""}, {"type": "bogus", "value": "x"}],
)  # fmt: skip
def test_bad_assertions_are_refused(spec: dict[str, object]) -> None:
    with pytest.raises(InputError, match="case 1"):
        parse_assertion_spec([spec], "cases.yaml: case 1")


def test_case_files_carry_assertions() -> None:
    csv_text = "name,question,assert:contains,assert:max_chars\nr,Where?,refund,300\nl,Login?,,\n"
    cases = parse_cases(csv_text, "csv")
    assert [len(c.assertions) for c in cases] == [2, 0]
    assert cases[0].values == {"question": "Where?"}
    yaml_text = (
        "- name: r\n  question: Where?\n  assert: {contains: refund, json: null}\n"
        "- name: t\n  question: Hi\n  assert:\n"
        "    - {type: regex, value: '^Hi', ignore_case: true}\n"
    )
    cases = parse_cases(yaml_text, "yaml")
    assert [a.type for a in cases[0].assertions] == ["contains", "json"]
    assert cases[1].assertions[0].ignore_case


@given(
    st.text(max_size=200), st.text(st.characters(exclude_characters="{"), min_size=1, max_size=20)
)
def test_contains_and_not_contains_disagree(output: str, needle: str) -> None:
    yes = check(Assertion(type="contains", value=needle), output).passed
    no = check(Assertion(type="not_contains", value=needle), output).passed
    assert yes is not no
