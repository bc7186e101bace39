"""Evidence: a finished run counts; a newer cancelled, partial run is labelled and skipped.

Both runs are made by the real engine against the local provider server on 127.0.0.1
(it answers with the user message), so the assertion checks are the engine's own."""

from __future__ import annotations

import asyncio

import pytest

from tests.providerserver.fixtures import provider_server  # noqa: F401 (a fixture)
from tests.providerserver.server import DEFAULT_KEY, ProviderServer
from tests.unit.app.topic_prompt import ECHO, commit_topic_prompt
from workbench.app.evidence import find_evidence
from workbench.core.assertions import Assertion
from workbench.core.models import Message, PromptContent
from workbench.core.runs import CellKey, CellResult, ModelRef, Run, RunSpec, TestCase
from workbench.engine.runner import Engine
from workbench.providers.profiles import ProviderProfile
from workbench.vault import Vault
from workbench.vault.runs import RunStore

MODEL = ModelRef(profile="oa", model="test-model")


def case(topic: str, must_contain: str | None = None) -> TestCase:
    checks = (Assertion(type="contains", value=must_contain),) if must_contain else ()
    return TestCase(name=topic, values={"topic": topic}, assertions=checks)


# owls and rivers pass their check, tea breaks it, moss has none.
CASES = (case("owls", "owls"), case("tea", "zebra"), case("rivers", "rivers"), case("moss"))


class CancelAfterFirst:
    def __init__(self, cancel: asyncio.Event) -> None:
        self.cancel = cancel

    def on_delta(self, key: CellKey, text: str) -> None:
        pass

    def on_cell(self, cell: CellResult, done: int, total: int, spent_usd: float) -> None:
        self.cancel.set()


def test_finished_run_is_chosen_over_a_newer_partial_one(
    vault: Vault,
    provider_server: ProviderServer,  # noqa: F811 (the fixture imported above)
) -> None:
    version = commit_topic_prompt(vault, "Tell me about {{ topic }}")
    profile = ProviderProfile(
        name="oa", family="openai", base_url=provider_server.base_url("openai"), key_name="k"
    )
    engine = Engine(vault, {"oa": profile}, keys=lambda p: DEFAULT_KEY)
    spec = RunSpec(prompt="p", version_ids=(version.id,), models=(MODEL,), cases=CASES, repeats=2)
    finished = asyncio.run(engine.run(spec))
    assert finished.status == "finished"

    async def cancelled_run() -> Run:
        cancel = asyncio.Event()
        slow = spec.model_copy(update={"concurrency": 1, "repeats": 20})
        return await engine.run(slow, CancelAfterFirst(cancel), cancel)

    partial = asyncio.run(cancelled_run())
    assert partial.status == "cancelled"
    assert 0 < len(partial.cells) < partial.spec.total_cells

    report = find_evidence(vault, version)
    assert report.chosen is not None
    assert report.chosen.run_id == finished.id
    assert report.chosen.state == "finished"
    # 8 calls: owls and rivers pass (2 x 2), tea breaks its check, bare has none.
    assert report.chosen.calls == 8
    assert (report.chosen.passed, report.chosen.checked) == (6, 6)
    assert report.chosen.pass_rate == pytest.approx(6 / 8)
    (row,) = report.chosen.rows
    assert (row.model, row.passed, row.failed) == (MODEL, 6, 2)
    evidence = report.chosen.to_eval()
    assert (evidence.passed, evidence.failed, evidence.run_id) == (6, 2, str(finished.id))

    # Read from the summary rows stored when the run ended, not from its cells ...
    stored = RunStore(vault).summary_rows(finished.id, version.id)
    assert stored == list(report.chosen.rows)
    # ... and a run from before they were kept gives the same answer from its cells.
    from sqlalchemy import delete

    from workbench.vault.schema import RunSummaryRow

    with vault.writing() as s:
        s.execute(delete(RunSummaryRow).where(RunSummaryRow.run_id == str(finished.id)))
    assert RunStore(vault).summary_rows(finished.id, version.id) is None
    assert find_evidence(vault, version) == report

    (skipped,) = report.partial
    assert skipped.run_id == partial.id
    assert skipped.partial
    assert skipped.state == (
        f"partial: cancelled, {len(partial.cells)} of {partial.spec.total_cells} calls"
    )


def test_only_partial_runs_mean_no_evidence(vault: Vault) -> None:
    version = commit_topic_prompt(vault, "Tell me about {{ topic }}")
    store = RunStore(vault)
    run = Run(spec=RunSpec(prompt="p", version_ids=(version.id,), models=(ECHO,), cases=CASES))
    store.start(run)
    store.add_cells(
        run.id, [CellResult(key=CellKey(version_id=version.id, model=ECHO, case_index=0))]
    )
    store.finish(run.id, "finished")  # marked finished, but 1 of its 4 cells is stored
    report = find_evidence(vault, version)
    assert report.chosen is None
    assert [p.state for p in report.partial] == ["partial: finished, 1 of 4 calls"]
    other = vault.commit(
        "p", PromptContent(messages=(Message(role="user", template="other"),)), "second"
    )
    assert find_evidence(vault, other).chosen is None  # no run tried it at all
    assert find_evidence(vault, other).partial == ()
