"""A failed latency check never reads as if it held: the measured value is shown
precisely when it rounds to the limit ("at most 1.00 s: was 1.003 s")."""

from __future__ import annotations

import uuid

import pytest

from workbench.core.assertions import Assertion, CheckResult, check
from workbench.core.runs import CellKey, CellResult, ModelRef
from workbench.ui.readouts import describe_check


def _latency_cell(latency_ms: float, limit_ms: float) -> tuple[CellResult, CheckResult]:
    assertion = Assertion(type="max_latency_ms", value=limit_ms)
    key = CellKey(version_id=uuid.uuid4(), model=ModelRef.parse("p:m"), case_index=0)
    cell = CellResult(key=key, output="hi", ttft_ms=200.0, latency_ms=latency_ms)
    result = check(assertion, cell.output, latency_ms=latency_ms, ttft_ms=cell.ttft_ms)
    return cell.model_copy(update={"checks": (result,)}), result


@pytest.mark.parametrize(
    ("latency", "limit", "said"),
    [
        (1003.4, 1000, "total latency at most 1.00 s: was 1.003 s"),
        (1000.4, 1000, "total latency at most 1.00 s: was 1.0004 s"),
        (1250.0, 1000, "total latency at most 1.00 s: was 1.25 s"),
        (812.0, 500, "total latency at most 500 ms: was 812 ms"),
    ],
)
def test_failed_latency_check_names_a_value_over_the_limit(
    latency: float, limit: float, said: str
) -> None:
    cell, result = _latency_cell(latency, limit)
    assert not result.passed
    assert describe_check(cell.checks[0], cell) == "✘ " + said


def test_a_rubric_check_shows_its_grade_and_what_grading_cost() -> None:
    rubric = Assertion(type="rubric", value="polite", model="oa:judge")
    key = CellKey(version_id=uuid.uuid4(), model=ModelRef.parse("p:m"), case_index=0)
    cell = CellResult(key=key, output="hi", cost_usd=0.001)
    held = CheckResult(assertion=rubric, passed=True, score=8, reason="kind",
                       grader="oa:judge", grader_cost_usd=0.0032)  # fmt: skip
    assert describe_check(held, cell) == (
        "✔ rubric 'polite' (>= 7/10 by oa:judge): scored 8/10, kind (grading $0.0032)"
    )
    broke = CheckResult(assertion=rubric, passed=False, score=2, reason="curt",
                        detail="scored 2/10, needs 7: curt", grader="oa:judge",
                        grader_cost_usd=0.0032)  # fmt: skip
    assert describe_check(broke, cell).endswith(": scored 2/10, needs 7: curt (grading $0.0032)")
