from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.core.assertions import REGEX_TIMEOUT_S, Assertion, check, parse_assertion_spec
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
    result = check(Assertion(type=kind, value=value), output)
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


# ---- not_regex, json_schema, similar, token bounds (issue 13) --------------------------


def test_not_regex_passes_only_when_nothing_matches() -> None:
    a = Assertion(type="not_regex", value=r"\bsorry\b", ignore_case=True)
    assert check(a, "Your refund is on its way.").passed
    failed = check(a, "Sorry, no refund.")
    assert not failed.passed and "matches the answer" in failed.detail
    slow = check(Assertion(type="not_regex", value="(a|aa)+$"), "a" * 40 + "!")
    assert not slow.passed and f"{REGEX_TIMEOUT_S:g} s" in slow.detail  # not shown absent


SCHEMA = {
    "title": "status",
    "type": "object",
    "required": ["status", "plan"],
    "properties": {"status": {"enum": ["active", "paused"]}, "plan": {"type": "string"}},
}


def test_json_schema_names_where_the_answer_breaks_it() -> None:
    a = Assertion(type="json_schema", value=SCHEMA)
    assert check(a, '{"status": "active", "plan": "pro"}').passed
    bad = check(a, '{"status": "gone", "plan": 3}')
    assert not bad.passed and bad.detail.startswith("at plan:") and "(and 1 more)" in bad.detail
    assert "not JSON" in check(a, "active").detail
    assert a.describe() == "matches the JSON Schema 'status'"
    # A CSV cell holds the schema as JSON text; a broken schema is refused at once.
    assert Assertion(type="json_schema", value=json.dumps(SCHEMA)).value == SCHEMA
    with pytest.raises(ValueError, match="not a valid schema at properties/plan"):
        Assertion(type="json_schema", value={"properties": {"plan": {"type": "strin"}}})
    with pytest.raises(ValueError, match="takes a JSON Schema"):
        Assertion(type="json_schema", value=[1])


def test_similar_is_a_measured_distance_with_a_threshold() -> None:
    ref = "Your refund for order 1182 was sent today and arrives in 3 days."
    a = Assertion(type="similar", value=ref)
    assert check(a, "Your refund for order 1182 was sent today; it arrives in 3 days.").passed
    far = check(a, "I cannot help with that.")
    assert not far.passed and "like the reference, needs 80%" in far.detail
    loose = Assertion(type="similar", value=ref, threshold=0.2)
    assert check(loose, "Your order ships soon.").passed
    assert "(>= 20%)" in loose.describe()
    with pytest.raises(ValueError, match="from 0 to 1"):
        Assertion(type="similar", value=ref, threshold=1.5)
    with pytest.raises(ValueError, match="only similar and rubric do"):
        Assertion(type="contains", value="x", threshold=0.5)


def test_token_bounds_use_the_cells_output_tokens() -> None:
    at_most = Assertion(type="max_tokens", value=50)
    at_least = Assertion(type="min_tokens", value="5")  # a CSV cell is text
    assert check(at_most, "x", output_tokens=50).passed
    assert check(at_most, "x", output_tokens=51).detail == "51 tokens > 50"
    assert not check(at_least, "x", output_tokens=4).passed
    assert check(at_least, "x", output_tokens=5).passed
    assert check(at_most, "x").detail == "output tokens unknown"


def test_json_and_json_schema_checks_at_a_path() -> None:
    """``is_json`` with a path: the answer must have a value there, and the keys or the
    schema apply to it."""
    answer = '{"order": {"id": "A-1", "items": [{"sku": "X9", "qty": 2}]}}'
    has_sku = Assertion(type="json", value=["sku", "qty"], path="order.items.0")
    assert check(has_sku, answer).passed
    assert has_sku.describe() == "is JSON with a value at order.items.0 with keys sku, qty"
    missing = check(Assertion(type="json", path="order.items.3"), answer)
    assert not missing.passed and missing.detail == "the JSON has nothing at order.items.3"
    lacks = check(Assertion(type="json", value=["price"], path="order.items.-1"), answer)
    assert not lacks.passed and lacks.detail == "the JSON lacks price"
    schema = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}
    assert check(Assertion(type="json_schema", value=schema, path="order"), answer).passed
    wrong = check(Assertion(type="json_schema", value=schema, path="order.items.0"), answer)
    assert not wrong.passed and "'id' is a required property" in wrong.detail
    gone = check(Assertion(type="json_schema", value=schema, path="customer"), answer)
    assert not gone.passed and gone.detail == "the JSON has nothing at customer"
