"""The Pricer: one genai-prices lookup per model (then reused), profile overrides first,
unknown models unknown (never $0), echo and Ollama free."""

from __future__ import annotations

from workbench.engine.pricing import Pricer, price_call
from workbench.providers.profiles import PriceOverride, ProviderProfile


def profile(family: str = "openai", **kw: object) -> ProviderProfile:
    return ProviderProfile(
        name="p", family=family, base_url="http://127.0.0.1:9", key_name="k", **kw
    )  # type: ignore[arg-type]


def test_one_lookup_per_model_and_the_same_price_as_a_fresh_lookup() -> None:
    pricer, oa = Pricer(), profile()
    first = pricer.rate(oa, "gpt-4o-mini")
    assert pricer.rate(oa, "gpt-4o-mini") is first  # reused, not looked up again
    cost, source = pricer.price(oa, "gpt-4o-mini", 1000, 200)
    assert (cost, source) == price_call(oa, "gpt-4o-mini", 1000, 200)
    assert cost is not None and cost > 0
    assert pricer.rate(oa, "gpt-4o") is not first  # another model, another lookup


def test_an_override_wins_and_a_changed_override_is_not_served_stale() -> None:
    pricer = Pricer()
    cheap = profile(prices={"gpt-4o-mini": PriceOverride(input_per_mtok=1, output_per_mtok=2)})
    cost, source = pricer.price(cheap, "gpt-4o-mini", 1_000_000, 1_000_000)
    assert cost == 3.0 and "override" in source
    dearer = profile(prices={"gpt-4o-mini": PriceOverride(input_per_mtok=10, output_per_mtok=20)})
    assert pricer.price(dearer, "gpt-4o-mini", 1_000_000, 1_000_000)[0] == 30.0


def test_unknown_is_none_and_local_models_are_free() -> None:
    pricer = Pricer()
    cost, source = pricer.price(profile(), "no-such-model-anywhere", 10, 10)
    assert cost is None and source.startswith("unknown")
    assert pricer.price(profile("ollama"), "llama3", 10, 10)[0] == 0.0
