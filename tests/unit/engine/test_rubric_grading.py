"""Rubric assertions graded by a real model call to the local provider server: the
grade on the cell's check (score, reason, grader, cost), the grading call in the run
log and the spending but not in the matrix, and each way grading can go wrong."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.providerserver.server import DEFAULT_KEY, ProviderServer
from workbench.core.assertions import Assertion
from workbench.core.errors import UsageError
from workbench.core.models import Message, PromptContent, Variable
from workbench.core.runs import CellResult, ModelRef, RunSpec, SpendCap, TestCase, summarize
from workbench.engine.runner import Engine
from workbench.providers.profiles import PriceOverride, ProviderProfile
from workbench.vault import Vault
from workbench.vault.runs import RunStore

from .conftest import content

ANSWER = PriceOverride(input_per_mtok=1.0, output_per_mtok=2.0)
GRADER = PriceOverride(input_per_mtok=10.0, output_per_mtok=20.0)


def profile(server: ProviderServer) -> ProviderProfile:
    return ProviderProfile(
        name="oa", family="openai", base_url=server.base_url("openai"), key_name="k",
        prices={"test-model": ANSWER, "judge": GRADER, "judge-low": GRADER, "bad-judge": GRADER,
                "nonexistent-judge": GRADER, "flaky-judge": GRADER},
    )  # fmt: skip


def engine(vault: Vault, server: ProviderServer) -> Engine:
    return Engine(vault, {"oa": profile(server)}, keys=lambda _p: DEFAULT_KEY)


def rubric(model: str = "oa:judge", **kw: object) -> Assertion:
    return Assertion(type="rubric", value="The answer is about {{ topic }}.", model=model, **kw)


def run_cases(vault: Vault, server: ProviderServer, *cases: TestCase, **kw: object) -> RunSpec:
    version = vault.commit("p", content(), "v1")
    server.script("test-model", input_tokens=40, output_tokens=6)
    return RunSpec(
        prompt="p", version_ids=(version.id,), models=(ModelRef.parse("oa:test-model"),),
        cases=cases, **kw,
    )  # fmt: skip


def grade(score: float, reason: str = "on topic") -> str:
    return json.dumps({"score": score, "reason": reason})


def test_a_rubric_passes_and_fails_by_its_threshold_with_its_own_cost(
    vault: Vault, provider_server: ProviderServer
) -> None:
    provider_server.script(
        "judge", text=grade(8, "mentions owls"), input_tokens=300, output_tokens=12
    )
    provider_server.script("judge-low", text=grade(3, "drifts off topic"), input_tokens=300,
                           output_tokens=12)  # fmt: skip
    spec = run_cases(
        vault, provider_server,
        TestCase(name="hi", values={"topic": "owls"}, assertions=(rubric(),)),
        TestCase(name="lo", values={"topic": "tea"},
                 assertions=(Assertion(type="contains", value="tea"), rubric("oa:judge-low"))),
    )  # fmt: skip
    run = asyncio.run(engine(vault, provider_server).run(spec))
    assert run.status == "finished"
    assert len(run.cells) == 2  # the matrix: grading calls are not cells of it
    hi, lo = sorted(run.cells, key=lambda c: c.key.case_index)
    answer_cost = (40 * 1.0 + 6 * 2.0) / 1e6
    grading_cost = (300 * 10.0 + 12 * 20.0) / 1e6
    for cell in (hi, lo):
        assert cell.cost_usd == pytest.approx(answer_cost)  # the graded call's own readout
        assert cell.grading_cost_usd == pytest.approx(grading_cost)
    [check] = hi.checks
    assert check.passed and check.score == 8 and check.reason == "mentions owls"
    assert check.grader == "oa:judge" and check.grader_cost_usd == pytest.approx(grading_cost)
    assert hi.passed
    contains, low = lo.checks
    assert contains.passed and not low.passed and not lo.passed
    assert low.score == 3 and not low.grader_error
    assert low.detail == "scored 3/10, needs 7: drifts off topic"

    # The grader was sent the rubric (its variables filled in) and the answer, at
    # temperature 0, with the case's request for context.
    [sent] = [r for r in provider_server.requests if r.model == "judge"]
    user = sent.body["messages"][-1]["content"]
    assert "The answer is about owls." in user
    assert hi.output in user and "Tell me about owls please" in user
    assert sent.body["temperature"] == 0
    assert "score" in sent.body["messages"][0]["content"]

    # The run log has every call, the grading ones as such, with their cost.
    store = RunStore(vault)
    log = store.log(prompt="p")
    graders = [e.cell for e in log if e.cell.kind == "grader"]
    assert len(log) == 4 and len(graders) == 2
    assert {str(g.key.model) for g in graders} == {"oa:judge", "oa:judge-low"}
    assert all(g.cost_usd == pytest.approx(grading_cost) for g in graders)
    assert {g.key.case_index for g in graders} == {0, 1}
    # The run's spending counts both; its matrix, summaries and counts only the cells.
    stored = store.load(run.id)
    assert len(stored.cells) == 2 and store.count_cells(run.id) == 2
    [row] = summarize(stored.cells)
    assert row.calls == 2 and row.cost_usd == pytest.approx(2 * answer_cost)
    [listed] = store.list_runs("p")
    assert listed.cost.usd == pytest.approx(2 * answer_cost + 2 * grading_cost)
    totals = store.totals([str(run.id)])[str(run.id)]
    assert totals.stored_cells == 2
    assert totals.cost.usd == pytest.approx(2 * answer_cost + 2 * grading_cost)
    by_model = {g.key: g for g in store.costs_by("model")}
    assert by_model["oa:judge"].cost.usd == pytest.approx(grading_cost)
    since = datetime.now(UTC) - timedelta(hours=1)
    assert store.spent_since(since) == pytest.approx(2 * answer_cost + 2 * grading_cost)
    assert [c.kind for c in store.grader_cells(run.id)] == ["grader", "grader"]


def test_an_unreadable_grade_fails_the_check_clearly(
    vault: Vault, provider_server: ProviderServer
) -> None:
    provider_server.script("bad-judge", text="I would say this is a pretty good answer!")
    spec = run_cases(
        vault, provider_server,
        TestCase(name="a", values={"topic": "owls"}, assertions=(rubric("oa:bad-judge"),)),
    )  # fmt: skip
    run = asyncio.run(engine(vault, provider_server).run(spec))
    [cell] = run.cells
    [check] = cell.checks
    assert not check.passed and check.grader_error and check.score is None
    assert check.detail == (
        "the grader's answer has no JSON object: it said "
        "'I would say this is a pretty good answer!'"
    )
    assert check.grader_cost_usd is not None and check.grader_cost_usd > 0  # it answered
    [graded] = RunStore(vault).grader_cells(run.id)
    assert graded.ok and graded.output.startswith("I would say")


def test_a_grader_that_fails_is_an_unjudged_check_and_retries_go_through_the_policy(
    vault: Vault, provider_server: ProviderServer
) -> None:
    provider_server.script("flaky-judge", text=grade(9), fail_times=1, status=503, retry_after_ms=1)
    spec = run_cases(
        vault, provider_server,
        TestCase(name="gone", values={"topic": "owls"},
                 assertions=(rubric("oa:nonexistent-judge"),)),
        TestCase(name="flaky", values={"topic": "tea"}, assertions=(rubric("oa:flaky-judge"),)),
    )  # fmt: skip
    run = asyncio.run(engine(vault, provider_server).run(spec))
    gone, flaky = sorted(run.cells, key=lambda c: c.key.case_index)
    assert gone.ok  # the answer itself came
    [check] = gone.checks
    assert not check.passed and check.grader_error
    assert check.detail.startswith("the grader oa:nonexistent-judge did not answer: ")
    assert "not found" in check.detail
    assert flaky.passed and flaky.checks[0].score == 9
    calls = {str(c.key.model): c for c in RunStore(vault).grader_cells(run.id)}
    assert calls["oa:nonexistent-judge"].error_kind == "model_not_found"
    assert len(calls["oa:flaky-judge"].retries) == 1  # retried like any call


def test_an_unpriced_grader_is_refused_and_never_called(
    vault: Vault, provider_server: ProviderServer
) -> None:
    spec = run_cases(
        vault, provider_server,
        TestCase(name="a", values={"topic": "owls"}, assertions=(rubric("oa:unpriced-judge"),)),
    )  # fmt: skip
    run = asyncio.run(engine(vault, provider_server).run(spec))
    [check] = run.cells[0].checks
    assert not check.passed and check.grader_error
    assert "has no known price" in check.detail and "--price unpriced-judge=IN,OUT" in check.detail
    assert not provider_server.requests_for("unpriced-judge")
    assert RunStore(vault).grader_cells(run.id) == []


def test_an_unknown_grader_profile_is_refused_before_the_run(
    vault: Vault, provider_server: ProviderServer
) -> None:
    spec = run_cases(
        vault, provider_server,
        TestCase(name="a", values={"topic": "owls"}, assertions=(rubric("nowhere:judge"),)),
    )  # fmt: skip
    with pytest.raises(UsageError, match="no provider profile named 'nowhere'"):
        asyncio.run(engine(vault, provider_server).run(spec))
    assert not provider_server.requests


def test_grading_is_under_the_runs_budget(vault: Vault, provider_server: ProviderServer) -> None:
    provider_server.script("judge", text=grade(8), input_tokens=300, output_tokens=12)
    spec = run_cases(
        vault, provider_server,
        TestCase(name="a", values={"topic": "owls"}, assertions=(rubric(),)),
    )  # fmt: skip
    eng = engine(vault, provider_server)
    estimate = eng.estimate(spec)
    assert estimate.calls == 1 and estimate.grading_calls == 1
    answer_only = eng.estimate(
        spec.model_copy(update={"cases": (TestCase(values={"topic": "owls"}),)})
    )
    assert estimate.cost_usd is not None and answer_only.cost_usd is not None
    assert estimate.cost_usd > answer_only.cost_usd
    # A cap the answer fits and its grading does not: the grader is never called.
    cap = SpendCap(label="the daily budget ($0.0001)", remaining_usd=answer_only.cost_usd * 1.5)
    run = asyncio.run(eng.run(spec.model_copy(update={"spend_caps": (cap,)})))
    [cell] = run.cells
    assert cell.ok
    [check] = cell.checks
    assert not check.passed and check.grader_error
    assert "the daily budget ($0.0001) reached; call not made" in check.detail
    assert not provider_server.requests_for("judge")


def test_sensitive_values_reach_the_grader_but_are_stored_masked(
    vault: Vault, provider_server: ProviderServer
) -> None:
    secret = "ACCT-99812"
    version = vault.commit(
        "p",
        PromptContent(
            messages=(Message(role="user", template="Account {{ account }}: hello"),),
            variables=(Variable(name="account", sensitivity="sensitive"),),
        ),
        "v1",
    )
    provider_server.script("judge", text=grade(2, f"it repeats {secret}"))
    polite = Assertion(type="rubric", value="Polite.", model="oa:judge")
    spec = RunSpec(
        prompt="p", version_ids=(version.id,), models=(ModelRef.parse("oa:test-model"),),
        cases=(TestCase(values={"account": secret}, assertions=(polite,)),),
    )  # fmt: skip
    run = asyncio.run(engine(vault, provider_server).run(spec))
    [sent] = provider_server.requests_for("judge")
    assert secret in json.dumps(sent.body)  # the grader needs what the model saw
    stored: list[CellResult] = [e.cell for e in RunStore(vault).log(prompt="p")]
    assert len(stored) == 2
    assert all(secret not in c.model_dump_json() for c in stored)
    assert secret not in run.cells[0].model_dump_json()
    reason = run.cells[0].checks[0].reason
    assert reason.startswith("it repeats [") and secret not in reason


def test_the_graders_own_profile_budget_holds_at_preflight(
    vault: Vault, provider_server: ProviderServer
) -> None:
    from workbench.app.budget import preflight
    from workbench.settings import Budgets, ProviderBudget

    spec = run_cases(
        vault, provider_server,
        TestCase(name="a", values={"topic": "owls"}, assertions=(rubric("jp:judge"),)),
    )  # fmt: skip
    judges = profile(provider_server).model_copy(update={"name": "jp"})
    eng = Engine(vault, {"oa": profile(provider_server), "jp": judges}, keys=lambda _p: DEFAULT_KEY)
    estimate = eng.estimate(spec)
    grading = estimate.cost_by_profile["jp"]
    assert grading is not None and grading > 0 and estimate.cost_by_profile["oa"] != grading
    roomy = Budgets(per_provider={"jp": ProviderBudget(per_day_usd=1.0)})
    planned, _ = preflight(eng, spec, roomy)
    assert [c.profile for c in planned.spend_caps] == ["jp"]
    tight = Budgets(per_provider={"jp": ProviderBudget(per_day_usd=grading / 2)})
    with pytest.raises(UsageError, match="the daily budget of jp"):
        preflight(eng, spec, tight)
