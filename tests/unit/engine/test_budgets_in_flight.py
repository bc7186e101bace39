"""Budgets hold under concurrency: a call starts only if what is spent, plus what the
calls in flight may cost, plus its own estimate, fits the cap; the rest are stopped
by budget, never called. Per provider profile and for all of them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tests.providerserver.server import DEFAULT_KEY, ProviderServer
from workbench.app.budget import budget_states, preflight
from workbench.core.errors import UsageError
from workbench.core.runs import ModelRef, RunSpec, SpendCap, TestCase
from workbench.core.templating import render_messages
from workbench.engine.runner import Engine, call_tokens_estimate
from workbench.providers.profiles import PriceOverride, ProviderProfile
from workbench.settings import Budgets, ProviderBudget
from workbench.vault import Vault
from workbench.vault.runs import RunStore

from .conftest import content

PER_TOKEN = PriceOverride(input_per_mtok=1_000_000, output_per_mtok=0)  # $1 an input token


def profile(name: str, server: ProviderServer) -> ProviderProfile:
    return ProviderProfile(
        name=name, family="openai", base_url=server.base_url("openai"),
        key_name="test-key", prices={"test-model": PER_TOKEN},
    )  # fmt: skip


def setup(vault: Vault, server: ProviderServer, calls: int) -> tuple[RunSpec, float]:
    """A run of ``calls`` alike calls, and what each costs (its estimate, exactly)."""
    version = vault.commit("p", content(max_tokens=5), "v1")
    cases = tuple(TestCase(name=f"c{i:02d}", values={"topic": "tea"}) for i in range(calls))
    rendered = render_messages(version.content, cases[0].values)
    tokens_in, _ = call_tokens_estimate((m.content for m in rendered), 5)
    # The server reports what the estimate expects: estimate == cost, to the cent.
    server.script("test-model", ttft=0.2, input_tokens=tokens_in, output_tokens=3)
    spec = RunSpec(
        prompt="p", version_ids=(version.id,), models=(ModelRef.parse("oa:test-model"),),
        cases=cases, concurrency=16,
    )  # fmt: skip
    return spec, float(tokens_in)


def test_calls_in_flight_count_so_no_call_starts_past_the_cap(
    vault: Vault, provider_server: ProviderServer
) -> None:
    spec, each = setup(vault, provider_server, 20)
    engine = Engine(vault, {"oa": profile("oa", provider_server)}, keys=lambda _p: DEFAULT_KEY)
    cap = SpendCap(label="the daily budget ($x)", remaining_usd=3.5 * each)
    run = asyncio.run(engine.run(spec.model_copy(update={"spend_caps": (cap,)})))
    made = [c for c in run.cells if c.ok]
    stopped = [c for c in run.cells if c.error_kind == "budget"]
    # All 16 slots were free at once: without counting the calls in flight, 16 would
    # have started; 3 fit the cap.
    assert len(made) == 3 and len(stopped) == 17
    assert sum(c.cost_usd or 0 for c in made) == pytest.approx(3 * each)
    assert all(c.error == "the daily budget ($x) reached; call not made" for c in stopped)
    assert len(provider_server.requests_for("test-model")) == 3


def test_a_provider_cap_stops_only_that_provider(
    vault: Vault, provider_server: ProviderServer
) -> None:
    spec, each = setup(vault, provider_server, 6)
    spec = spec.model_copy(
        update={"models": (ModelRef.parse("oa:test-model"), ModelRef.parse("ob:test-model"))}
    )
    profiles = {"oa": profile("oa", provider_server), "ob": profile("ob", provider_server)}
    engine = Engine(vault, profiles, keys=lambda _p: DEFAULT_KEY)
    cap = SpendCap(label="the daily budget of oa", remaining_usd=2 * each, profile="oa")
    run = asyncio.run(engine.run(spec.model_copy(update={"spend_caps": (cap,)})))
    by = {p: [c for c in run.cells if c.key.model.profile == p] for p in ("oa", "ob")}
    assert sum(c.ok for c in by["oa"]) == 2 and sum(c.ok for c in by["ob"]) == 6
    assert all(c.error_kind == "budget" for c in by["oa"] if not c.ok)


def test_preflight_turns_the_settings_budgets_into_caps_and_refuses_a_spent_one(
    vault: Vault, provider_server: ProviderServer
) -> None:
    spec, each = setup(vault, provider_server, 2)
    engine = Engine(vault, {"oa": profile("oa", provider_server)}, keys=lambda _p: DEFAULT_KEY)
    budgets = Budgets(per_day_usd=1000, per_provider={"oa": ProviderBudget(per_month_usd=500)})
    planned, _estimate = preflight(engine, spec, budgets)
    caps = {(c.profile, c.label) for c in planned.spend_caps}
    assert caps == {(None, "the daily budget ($1000.00)"),
                    ("oa", "the monthly budget of oa ($500.00)")}  # fmt: skip
    asyncio.run(engine.run(planned))
    store = RunStore(vault)
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert store.spent_since(day, "oa") == pytest.approx(2 * each)
    assert store.spent_since(day, "nobody") == 0
    states = {s.label: s for s in budget_states(store, budgets)}
    assert states["the monthly budget of oa"].spent_usd == pytest.approx(2 * each)
    tight = Budgets(per_provider={"oa": ProviderBudget(per_day_usd=each)})
    with pytest.raises(UsageError, match="the daily budget of oa is"):
        preflight(engine, spec, tight)  # already spent past it: refused before it starts
