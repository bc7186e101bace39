"""A call and a run have a total deadline, and an answer has a size bound: a server that
trickles forever or floods cannot keep a run going or fill memory. Against the real
provider test server on 127.0.0.1 and a real SQLite vault."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.providerserver.server import DEFAULT_KEY, ProviderServer
from workbench.engine.runner import Engine
from workbench.vault import Vault
from workbench.vault.runs import RunStore

from .test_close_and_breaker import local, matrix


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    with ProviderServer() as running:
        yield running


def engine(vault: Vault, server: ProviderServer) -> Engine:
    return Engine(vault, {"local": local(server.base_url("openai"))}, keys=lambda _p: DEFAULT_KEY)


def test_a_trickling_stream_fails_at_the_call_deadline(
    vault: Vault, server: ProviderServer
) -> None:
    # Every chunk comes well inside the read timeout, but the whole answer would take
    # 2,000 x 0.05 s = 100 s: only a total bound ends it.
    server.script("test-model", text="word " * 2000, chunks=2000, chunk_delay=0.05)
    spec = matrix(vault, 2, 2).model_copy(update={"call_deadline_s": 0.5})
    run = asyncio.run(engine(vault, server).run(spec))
    assert [c.error_kind for c in run.cells] == ["deadline", "deadline"]
    first = run.cells[0]
    assert first.error is not None and "call deadline of 0.5 s" in first.error
    assert "--call-deadline" in first.error  # the hint names an option the user can set
    assert not first.retries  # the time is spent: not retried
    assert len(RunStore(vault).load(run.id).cells) == 2


def test_the_run_deadline_ends_calls_going_and_skips_the_rest(
    vault: Vault, server: ProviderServer
) -> None:
    server.script("test-model", text="word " * 2000, chunks=2000, chunk_delay=0.05)
    spec = matrix(vault, 5, 1).model_copy(update={"run_deadline_s": 0.5})
    run = asyncio.run(engine(vault, server).run(spec))
    kinds = [c.error_kind for c in run.cells]
    assert kinds == ["deadline"] * 5
    skipped = [c for c in run.cells if c.error and "call not made" in c.error]
    assert len(skipped) == 4  # concurrency 1: one call was going, four never started
    assert all("run deadline of 0.5 s reached" in (c.error or "") for c in skipped)
    assert len(server.requests_for("test-model")) == 1
    assert RunStore(vault).load(run.id).status == "finished"


def test_an_answer_past_the_size_bound_fails_its_cell(vault: Vault, server: ProviderServer) -> None:
    server.script("test-model", text="word " * 4000, chunks=40)  # 20,000 characters
    spec = matrix(vault, 1, 1).model_copy(update={"max_answer_chars": 5000})
    run = asyncio.run(engine(vault, server).run(spec))
    (cell,) = run.cells
    assert cell.error_kind == "too_large"
    assert cell.error is not None and "passed 5,000 characters" in cell.error
    assert "--max-answer-chars" in cell.error
    assert cell.output == ""  # what came before the bound is not kept either
    assert len(server.requests_for("test-model")) == 1  # not retried

    # Under the bound the same answer is whole.
    ok = asyncio.run(
        engine(vault, server).run(spec.model_copy(update={"max_answer_chars": 50_000}))
    )
    assert ok.cells[0].ok and len(ok.cells[0].output) == 20_000
