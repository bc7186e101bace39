"""The engine against the local provider server on 127.0.0.1: readouts, errors, cache."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import pytest
from genai_prices import Usage, calc_price

from tests.providerserver.server import DEFAULT_KEY, ProviderServer
from workbench.core.runs import CellResult, ModelRef, RunSpec, TestCase, summarize
from workbench.engine.runner import Engine
from workbench.providers.profiles import ProviderProfile
from workbench.vault import Vault
from workbench.vault.runs import RunStore

from .conftest import content

CASES = (
    TestCase(name="a", values={"topic": "owls"}),
    TestCase(name="b", values={"topic": "rivers"}),
    TestCase(name="c", values={"topic": "tea"}),
)


def profiles(server: ProviderServer, key_name: str = "test-key") -> dict[str, ProviderProfile]:
    return {
        "oa": ProviderProfile(
            name="oa", family="openai", base_url=server.base_url("openai"), key_name=key_name
        ),
        "an": ProviderProfile(
            name="an", family="anthropic", base_url=server.base_url("anthropic"), key_name=key_name
        ),
        "ge": ProviderProfile(
            name="ge", family="gemini", base_url=server.base_url("gemini"), key_name=key_name
        ),
        "ol": ProviderProfile(name="ol", family="ollama", base_url=server.base_url("ollama")),
    }


def engine(vault: Vault, server: ProviderServer, key: str = DEFAULT_KEY) -> Engine:
    return Engine(vault, profiles(server), keys=lambda p: key)


def spec(vault: Vault, models: list[str], **kw: object) -> RunSpec:
    ids = tuple(v.id for v in vault.history("p"))
    return RunSpec(
        prompt="p",
        version_ids=ids,
        models=tuple(ModelRef.parse(m) for m in models),
        cases=CASES,
        **kw,
    )


def test_matrix_readouts_are_true(vault: Vault, provider_server: ProviderServer) -> None:
    vault.commit("p", content(), "v1")
    vault.commit("p", content(system="Be brief about {{ topic }}."), "v2")
    provider_server.script("gpt-4o-mini", ttft=0.05, chunks=4, input_tokens=120, output_tokens=33)
    provider_server.script("claude-3-5-haiku-latest", ttft=0.02, chunks=2)
    run = asyncio.run(
        engine(vault, provider_server).run(
            spec(vault, ["oa:gpt-4o-mini", "an:claude-3-5-haiku-latest"], concurrency=4)
        )
    )
    assert run.status == "finished"
    assert len(run.cells) == 2 * 2 * 3
    assert all(c.ok for c in run.cells), [c.error for c in run.cells]
    for cell in run.cells:
        assert cell.finish_reason == "stop"
        assert not cell.tokens_estimated
        assert cell.ttft_ms is not None
        assert cell.latency_ms is not None
        assert cell.latency_ms >= cell.ttft_ms
        assert "Tell me about" in cell.output  # the server echoes the user message
        provider = "openai" if cell.key.model.profile == "oa" else "anthropic"
        expected = calc_price(
            Usage(input_tokens=cell.input_tokens, output_tokens=cell.output_tokens),
            model_ref=cell.key.model.model,
            provider_id=provider,
        )
        assert cell.cost_usd == pytest.approx(float(expected.total_price))
        assert cell.price_source.startswith("genai-prices")
    oa = [c for c in run.cells if c.key.model.profile == "oa"]
    assert {(c.input_tokens, c.output_tokens) for c in oa} == {(120, 33)}
    ttft_errors = [abs(c.ttft_ms - 50) for c in oa if c.ttft_ms is not None]
    assert statistics.median(ttft_errors) < 25  # loose: a sanity check, bench/ measures
    # Everything is in the vault.
    stored = RunStore(vault).load(run.id)
    assert stored.status == "finished"
    assert sorted(c.model_dump_json() for c in stored.cells) == sorted(
        c.model_dump_json() for c in run.cells
    )
    rows = summarize(run.cells)
    assert len(rows) == 4
    assert all(r.calls == 3 and r.errors == 0 and r.cost_usd is not None for r in rows)


def test_every_family_and_estimated_usage(vault: Vault, provider_server: ProviderServer) -> None:
    vault.commit("p", content(), "v1")
    run = asyncio.run(
        engine(vault, provider_server).run(
            spec(
                vault,
                ["oa:test-model", "an:test-model", "ge:test-model", "ol:test-model", "echo:echo"],
            )
        )
    )
    assert all(c.ok for c in run.cells), [c.error for c in run.cells]
    by_profile = {c.key.model.profile: c for c in run.cells if c.key.case_index == 0}
    assert by_profile["ol"].cost_usd == 0.0
    assert by_profile["oa"].cost_usd is None  # unknown model: unknown cost, not 0
    assert by_profile["oa"].price_source.startswith("unknown")
    echo = by_profile["echo"]
    assert echo.echo
    assert echo.cost_usd == 0.0
    assert "owls" in echo.output


def test_errors_become_cells_and_the_run_completes(
    vault: Vault, provider_server: ProviderServer
) -> None:
    vault.commit("p", content(), "v1")
    provider_server.script("limited", fail_times=1, status=429, retry_after=0.05)
    provider_server.script("broken", fail_times=-1, status=500)
    provider_server.script("cut", fault="cut", chunks=4)
    provider_server.script("garbled", fault="garbled", chunks=4)
    provider_server.script("empty", fault="empty_choices")
    models = ["oa:limited", "oa:broken", "oa:cut", "oa:garbled", "oa:empty", "oa:nonexistent-x"]
    eng = engine(vault, provider_server)
    eng.profiles["oa"] = eng.profiles["oa"].model_copy(
        update={
            "retry": eng.profiles["oa"].retry.model_copy(
                update={"max_attempts": 2, "base_delay": 0.01}
            )
        }
    )
    run = asyncio.run(eng.run(spec(vault, models)))
    kinds = {c.key.model.model: c for c in run.cells if c.key.case_index == 0}
    assert kinds["limited"].ok
    assert len(kinds["limited"].retries) == 1
    assert kinds["limited"].retries[0].wait_s == pytest.approx(0.05, abs=0.01)
    assert kinds["broken"].error_kind == "server_error"
    assert kinds["cut"].error_kind == "broken_stream"
    assert kinds["garbled"].error_kind == "protocol"
    assert kinds["empty"].error_kind == "protocol"
    assert kinds["nonexistent-x"].error_kind == "model_not_found"
    assert all(c.error for c in run.cells if c.key.model.model != "limited")
    assert len(run.cells) == len(models) * 3


def test_wrong_key_and_render_errors(vault: Vault, provider_server: ProviderServer) -> None:
    vault.commit("p", content(), "v1")
    sp = spec(vault, ["oa:test-model"])
    sp = sp.model_copy(update={"cases": (*CASES, TestCase(name="missing", values={}))})
    run = asyncio.run(engine(vault, provider_server, key="sk-wrong-key-000000").run(sp))
    errors = [c.error_kind for c in run.cells]
    assert errors.count("authentication") == 3
    assert errors.count("render") == 1
    render = next(c for c in run.cells if c.error_kind == "render")
    assert "topic" in (render.error or "")
    assert all("sk-wrong-key-000000" not in (c.error or "") for c in run.cells)


def test_fallback_chain_on_purpose(vault: Vault, provider_server: ProviderServer) -> None:
    vault.commit("p", content(fallbacks=("an:test-model-2",)), "with fallback")
    run = asyncio.run(
        engine(vault, provider_server).run(
            spec(vault, ["oa:test-model"], fail_models=("oa:test-model",))
        )
    )
    assert all(c.ok for c in run.cells)
    assert {str(c.answered_by) for c in run.cells} == {"an:test-model-2"}
    assert all("oa:test-model" in (c.fallback_reason or "") for c in run.cells)
    assert provider_server.requests_for("test-model") == []


def test_cache_replays_offline(vault: Vault, provider_server: ProviderServer) -> None:
    vault.commit("p", content(), "v1")
    provider_server.script("test-model", ttft=0.03)
    first = asyncio.run(engine(vault, provider_server).run(spec(vault, ["oa:test-model"])))
    calls = len(provider_server.requests)
    second = asyncio.run(
        engine(vault, provider_server).run(spec(vault, ["oa:test-model"], use_cache=True))
    )
    assert len(provider_server.requests) == calls  # no new calls
    assert all(c.cached for c in second.cells)
    by_case = {c.key.case_index: c for c in first.cells}
    for c in second.cells:
        assert c.output == by_case[c.key.case_index].output
        assert c.original_latency_ms == by_case[c.key.case_index].latency_ms
        assert c.latency_ms == 0.0


def test_budget_cap_stops_spending(vault: Vault, provider_server: ProviderServer) -> None:
    vault.commit("p", content(), "v1")
    provider_server.script("gpt-4o", input_tokens=100_000, output_tokens=10_000)
    sp = spec(vault, ["oa:gpt-4o"], concurrency=1, max_cost_usd=0.01)
    run = asyncio.run(engine(vault, provider_server).run(sp))
    assert [c.error_kind for c in run.cells] == [None, "budget", "budget"]
    est = engine(vault, provider_server).estimate(sp)
    assert est.calls == 3
    assert est.cost_usd is not None
    assert est.cost_usd > 0


def test_cancel_keeps_finished_cells(vault: Vault, provider_server: ProviderServer) -> None:
    vault.commit("p", content(), "v1")
    provider_server.script("fast", ttft=0.0)
    provider_server.script("slow", ttft=30.0)
    eng = engine(vault, provider_server)
    done: list[CellResult] = []
    cancel: asyncio.Event
    cancelled_at: list[float] = []

    class Obs:
        def on_delta(self, key: object, text: str) -> None:
            pass

        def on_cell(self, cell: CellResult, n: int, total: int, spent: float) -> None:
            done.append(cell)
            if len(done) == 3:
                cancelled_at.append(time.monotonic())
                cancel.set()

    async def main() -> None:
        nonlocal cancel
        cancel = asyncio.Event()
        run = await eng.run(spec(vault, ["oa:fast", "oa:slow"]), Obs(), cancel)
        returned = time.monotonic()
        assert run.status == "cancelled"
        assert len(run.cells) == 3
        # The three slow calls were mid-wait (30 s TTFT): the bound is 1 s.
        assert returned - cancelled_at[0] < 1.0

    asyncio.run(main())
    runs = RunStore(vault).list_runs("p")
    stored = RunStore(vault).load(runs[0].id)
    assert stored.status == "cancelled"
    assert len(stored.cells) == 3


def test_key_never_reaches_the_vault(tmp_path: Path, provider_server: ProviderServer) -> None:
    with Vault.open(tmp_path / "v.sqlite3", create=True) as vault:
        vault.commit("p", content(), "v1")
        provider_server.script("bad", fail_times=-1, status=401)
        asyncio.run(engine(vault, provider_server).run(spec(vault, ["oa:test-model", "oa:bad"])))
    for f in tmp_path.iterdir():
        assert DEFAULT_KEY.encode() not in f.read_bytes(), f


@pytest.mark.parametrize("bad", ["openai:", ":gpt-4o", " : ", ""])
def test_a_malformed_fallback_is_refused_at_commit_and_nothing_is_stored(
    vault: Vault, bad: str
) -> None:
    from workbench.core.errors import TemplateError

    with pytest.raises(TemplateError) as refused:
        vault.commit("p", content(fallbacks=("an:test-model-2", bad)), "bad fallback")
    assert f"fallback 2 is {bad!r}" in refused.value.message
    assert "PROFILE:MODEL" in refused.value.message and refused.value.hint
    assert vault.list_prompts() == []


def test_a_stored_malformed_fallback_fails_its_cells_clearly_not_the_run(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version committed before commits checked fallbacks: its cells say what is
    wrong (the run failed with a bare ValueError, even on echo:echo)."""
    import workbench.vault.repository as repository
    from workbench.engine.runner import ECHO_PROFILE

    with monkeypatch.context() as m:
        m.setattr(repository, "validate_content", lambda _content: None)
        vault.commit("p", content(fallbacks=("openai:",)), "from an older vault")
    run = asyncio.run(
        Engine(vault, {"echo": ECHO_PROFILE}, keys=lambda _p: None).run(spec(vault, ["echo:echo"]))
    )
    assert run.status == "finished" and len(run.cells) == len(CASES)
    for cell in run.cells:
        assert not cell.ok and cell.error_kind == "config"
        assert "'openai:'" in (cell.error or "") and "PROFILE:MODEL" in (cell.error or "")
