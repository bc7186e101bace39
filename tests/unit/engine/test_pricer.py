"""The Pricer: one genai-prices lookup per model (then reused), profile overrides first,
unknown models unknown (never $0), echo and Ollama free."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from workbench.engine.pricing import Pricer, price_call
from workbench.providers.profiles import PriceOverride, ProviderProfile


def profile(family: str = "openai", **kw: object) -> ProviderProfile:
    return ProviderProfile(
        name="p", family=family, base_url="http://127.0.0.1:9", key_name="k", **kw
    )


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


# ---- the price cache: a new process prices a known model without genai-prices ----------


def test_cached_prices_are_calc_prices_figures_exactly(tmp_path: Path) -> None:
    from genai_prices import Usage, calc_price

    from workbench.engine.pricing import PriceCache

    path = tmp_path / "price-cache.json"
    oa = profile()
    Pricer(PriceCache(path)).rate(oa, "gpt-4o-mini")
    Pricer(PriceCache(path)).rate(oa, "no-such-model-xyz")
    assert path.exists()
    again = Pricer(PriceCache(path))  # a new process would start like this
    for inp, out in ((0, 0), (1, 1), (1000, 200), (123_457, 98_765)):
        cost, source = again.price(oa, "gpt-4o-mini", inp, out)
        truth = calc_price(
            Usage(input_tokens=inp, output_tokens=out),
            model_ref="gpt-4o-mini",
            provider_id="openai",
        )
        assert cost == float(truth.total_price)
        assert source.startswith("genai-prices") and "gpt-4o-mini" in source
    cost, source = again.price(oa, "no-such-model-xyz", 10, 10)
    assert cost is None and source.startswith("unknown")


def test_a_warm_cache_spares_the_genai_prices_import(tmp_path: Path) -> None:
    from workbench.engine.pricing import PriceCache

    path = tmp_path / "price-cache.json"
    Pricer(PriceCache(path)).rate(profile(), "gpt-4o-mini")
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from workbench.engine.pricing import PriceCache, Pricer\n"
        "from workbench.providers.profiles import ProviderProfile\n"
        "p = ProviderProfile(name='p', family='openai', base_url='http://127.0.0.1:9',"
        " key_name='k')\n"
        f"cost, _ = Pricer(PriceCache(Path({str(path)!r}))).price(p, 'gpt-4o-mini', 1000, 200)\n"
        "print(cost > 0, 'genai_prices' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["True", "False"]


def test_a_damaged_or_unwritable_cache_is_only_slower(tmp_path: Path) -> None:
    from workbench.engine.pricing import PriceCache

    damaged = tmp_path / "price-cache.json"
    damaged.write_text("{not json")
    cost, _ = Pricer(PriceCache(damaged)).price(profile(), "gpt-4o-mini", 1000, 200)
    assert cost is not None and cost > 0
    blocked = tmp_path / "file" / "price-cache.json"
    (tmp_path / "file").write_text("a file where the folder would be")
    cost2, _ = Pricer(PriceCache(blocked)).price(profile(), "gpt-4o-mini", 1000, 200)
    assert cost2 == cost
