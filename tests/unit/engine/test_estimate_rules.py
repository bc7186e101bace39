"""The pre-run estimate's rules: calls that cannot render are counted per call, and a
run none of whose calls renders is refused before it starts; prices typed as text."""

from __future__ import annotations

import pytest

from tests.providerserver.server import DEFAULT_KEY, ProviderServer
from workbench.app.budget import preflight
from workbench.core.errors import InputError
from workbench.core.runs import ModelRef, RunSpec, TestCase
from workbench.engine.runner import Engine
from workbench.providers.profiles import (
    PriceOverride,
    ProviderProfile,
    format_prices,
    parse_price,
    parse_prices,
)
from workbench.settings import Budgets
from workbench.vault import Vault

from .conftest import content


def _spec(vault: Vault, cases: tuple[TestCase, ...], models: tuple[str, ...]) -> RunSpec:
    return RunSpec(
        prompt="p",
        version_ids=tuple(v.id for v in vault.history("p")),
        models=tuple(ModelRef.parse(m) for m in models),
        cases=cases,
    )


def _engine(vault: Vault, server: ProviderServer) -> Engine:
    oa = ProviderProfile(name="oa", family="openai", base_url=server.base_url("openai"))
    return Engine(vault, {"oa": oa}, keys=lambda _p: DEFAULT_KEY)


def test_unrenderable_calls_are_counted_per_call(
    vault: Vault, provider_server: ProviderServer
) -> None:
    vault.commit("p", content(), "v1")
    vault.commit("p", content(system="Be brief."), "v2")
    engine = _engine(vault, provider_server)
    # Two versions x two models, one case with no value: four calls, one reason.
    nothing = _spec(vault, (TestCase(name="empty"),), ("echo:echo", "oa:test-model"))
    estimate = engine.estimate(nothing)
    assert (estimate.calls, estimate.unrenderable_calls) == (4, 4)
    assert len(estimate.render_errors) == 1 and "topic" in estimate.render_errors[0]
    with pytest.raises(InputError, match="no test case renders"):
        preflight(engine, nothing, Budgets())

    # One case renders: the run may start, and the estimate says how many will fail.
    some = _spec(
        vault, (TestCase(name="empty"), TestCase(name="ok", values={"topic": "owls"})),
        ("echo:echo",),
    )  # fmt: skip
    _spec_out, estimate = preflight(engine, some, Budgets())
    assert (estimate.calls, estimate.unrenderable_calls) == (4, 2)


def test_prices_typed_as_text_read_back_and_bad_ones_say_how() -> None:
    assert parse_price(" my-model = 0.5,1.5 ") == (
        "my-model",
        PriceOverride(input_per_mtok=0.5, output_per_mtok=1.5),
    )
    prices = parse_prices("b=0,0;\n a=0.15,0.6 ; ")
    assert format_prices(prices) == "a=0.15,0.6; b=0,0"
    assert parse_prices(format_prices(prices)) == prices
    assert parse_prices("  ") == {}
    for bad in ("cheap", "m=1", "m=a,b", "=1,2", "m=-1,2", "m=inf,1", "m=1,2,3"):
        with pytest.raises(ValueError, match="MODEL=INPUT,OUTPUT in USD per million tokens"):
            parse_price(bad)


def test_the_editor_and_the_pre_flight_estimate_one_call_alike(vault: Vault) -> None:
    """The editor estimates a call from its rendered messages; the pre-flight from the
    planned request: the same rule (call_tokens_estimate), so the same figures."""
    from workbench.core.templating import render_messages
    from workbench.engine.runner import ECHO_PROFILE, call_tokens_estimate

    for max_tokens in (None, 77):
        text = "v1" if max_tokens is None else "v2"
        version = vault.commit("p", content(max_tokens=max_tokens), text)
        case = TestCase(name="c", values={"topic": "a rather long topic " * 20})
        rendered = render_messages(version.content, case.values)
        editor = call_tokens_estimate((m.content for m in rendered), max_tokens)
        spec = RunSpec(
            prompt="p", version_ids=(version.id,), models=(ModelRef.parse("echo:echo"),),
            cases=(case,),
        )  # fmt: skip
        estimate = Engine(vault, {"echo": ECHO_PROFILE}).estimate(spec)
        assert (estimate.input_tokens, estimate.output_tokens) == editor


def test_a_run_after_its_estimate_renders_its_cells_once(
    vault: Vault, provider_server: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """compare estimates, then runs, the same spec: the run takes the estimate's plans
    (no variable is bound to a source), and its cells are the ones estimated."""
    import workbench.engine.planning as planning
    from workbench.engine.runner import run_sync

    vault.commit("p", content(), "v1")
    engine = _engine(vault, provider_server)
    cases = tuple(TestCase(name=f"c{i}", values={"topic": f"t{i}"}) for i in range(3))
    spec = _spec(vault, cases, ("echo:echo",))
    renders: list[int] = []
    real = planning.render_messages  # type: ignore[attr-defined]

    def counted(*args: object, **kwargs: object) -> object:
        renders.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(planning, "render_messages", counted)
    spec, estimate = preflight(engine, spec, Budgets())
    assert estimate.calls == 3 and len(renders) == 3
    run = run_sync(engine, spec)
    assert len(renders) == 3  # not rendered again
    assert sorted(c.key.case_index for c in run.cells) == [0, 1, 2]
    assert all(c.ok for c in run.cells)
    engine.estimate(spec)
    run_sync(engine, spec.model_copy(update={"repeats": 2}))  # another spec: planned anew
    assert len(renders) == 9
