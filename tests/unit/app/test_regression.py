"""The regression comparison (app/regression.py): how a run of two versions becomes
per-case changes and a verdict, and how the baseline is found in a real vault."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.app.regression import output_diff, plan_regression, regression_report
from workbench.core.assertions import Assertion, CheckResult
from workbench.core.errors import NotFoundError
from workbench.core.models import Message, PromptContent
from workbench.core.runs import CellKey, CellResult, ModelRef, Run, RunSpec, TestCase
from workbench.vault import Vault

MODEL = ModelRef.parse("oa:m")
CONTAINS = Assertion(type="contains", value="ok")
RUBRIC = Assertion(type="rubric", value="polite", model="oa:judge")


def content(text: str) -> PromptContent:
    return PromptContent(messages=(Message(role="user", template=text),))


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    with Vault.open(tmp_path / "vault.sqlite3", create=True, actor="ada") as v:
        v.commit("p", content("one"), "first")
        v.move_label("p", "production", v.get_version("p", "draft1").id)
        v.commit("p", content("two"), "second")
        yield v


def cell(version: uuid.UUID, case: int, output: str, *, repeat: int = 0,
         passed: bool = True, error: str | None = None,
         ungraded: bool = False) -> CellResult:  # fmt: skip
    check = CheckResult(assertion=CONTAINS, passed=passed, detail="" if passed else "no ok")
    if ungraded:
        check = CheckResult(
            assertion=RUBRIC, passed=False, detail="the grader did not answer",
            grader="oa:judge", grader_error=True,
        )  # fmt: skip
    return CellResult(
        key=CellKey(version_id=version, model=MODEL, case_index=case, repeat=repeat),
        output="" if error else output,
        error=error,
        error_kind="server_error" if error else None,
        checks=() if error else (check,),
    )


def test_changes_by_case_with_repeats_and_a_diff_for_regressions(vault: Vault) -> None:
    plan = plan_regression(vault, "p", "production")
    assert plan.from_label and not plan.same
    assert plan.baseline.display_number.startswith("draft 1")
    assert plan.candidate.display_number.startswith("draft 2")
    old, new = plan.baseline.id, plan.candidate.id
    cases = tuple(TestCase(name=n) for n in ("kept", "broke", "mended", "never"))
    spec = RunSpec(prompt="p", version_ids=plan.version_ids, models=(MODEL,), cases=cases,
                   repeats=2)  # fmt: skip
    cells = [
        *(cell(v, 0, "ok fine", repeat=r) for v in (old, new) for r in (0, 1)),
        cell(old, 1, "ok\nsame", repeat=0), cell(old, 1, "ok\nsame", repeat=1),
        cell(new, 1, "ok\nchanged", repeat=0),
        cell(new, 1, "changed", repeat=1, passed=False),  # one repeat failing fails it
        cell(old, 2, "bad", passed=False), cell(old, 2, "bad", repeat=1, passed=False),
        cell(new, 2, "ok", repeat=0), cell(new, 2, "ok", repeat=1),
        *(cell(v, 3, "bad", repeat=r, passed=False) for v in (old, new) for r in (0, 1)),
    ]  # fmt: skip
    report = regression_report(Run(spec=spec, cells=tuple(cells)), plan)
    assert [(c.case, c.change) for c in report.changes] == [
        ("broke", "regressed"), ("mended", "fixed"), ("never", "still_failing"),
        ("kept", "still_passing"),
    ]  # fmt: skip
    broke = report.changes[0]
    assert broke.baseline.passed and not broke.candidate.passed and broke.candidate.judged
    assert broke.candidate.why == "contains 'ok': no ok"
    assert broke.diff == ("@@ -1,2 +1,2 @@", " ok", "-same", "+changed")
    assert all(not c.diff for c in report.changes[1:])
    assert report.verdict == "regressed"
    assert (report.count("fixed"), report.count("still_passing")) == (1, 1)


def test_an_unjudged_candidate_is_could_not_judge_not_a_regression(vault: Vault) -> None:
    plan = plan_regression(vault, "p", "production")
    old, new = plan.baseline.id, plan.candidate.id
    spec = RunSpec(prompt="p", version_ids=plan.version_ids, models=(MODEL,),
                   cases=(TestCase(name="a"), TestCase(name="b"), TestCase(name="c")))  # fmt: skip
    cells = (
        cell(old, 0, "ok"), cell(new, 0, "ok", ungraded=True),  # the grader failed
        cell(old, 1, "ok"), cell(new, 1, "", error="HTTP 500"),  # no answer
        cell(old, 2, "ok"),  # a cancelled run: the candidate's cell never came
    )  # fmt: skip
    report = regression_report(Run(spec=spec, cells=cells), plan)
    assert [(c.case, c.change, c.candidate.judged) for c in report.changes] == [
        ("a", "regressed", False), ("b", "regressed", False)
    ]  # fmt: skip
    assert report.changes[1].candidate.output == "error: HTTP 500"
    assert report.verdict == "could_not_judge"


def test_the_baseline_is_a_label_or_any_version_and_a_missing_one_says_sync(
    vault: Vault,
) -> None:
    by_version = plan_regression(vault, "p", "draft1", candidate="latest")
    assert not by_version.from_label
    assert by_version.baseline.id == plan_regression(vault, "p", "production").baseline.id
    assert plan_regression(vault, "p", "production", candidate="production").same
    with pytest.raises(NotFoundError, match="no label or version 'staging'") as info:
        plan_regression(vault, "p", "staging")
    assert "workbench sync" in (info.value.hint or "")


def test_output_diffs_are_short() -> None:
    assert output_diff("same", "same") == ()
    long = output_diff("\n".join(f"a{i}" for i in range(40)), "\n".join(f"b{i}" for i in range(40)))
    assert len(long) == 13 and long[-1] == "… 69 more lines"
    wide = output_diff("x", "y" * 500)
    assert max(len(line) for line in wide) == 200 and wide[-1].endswith("…")
