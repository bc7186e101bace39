"""What a call cost, from the maintained ``genai-prices`` data.

Order of precedence: the profile's own price override for the model; the echo
provider (costs nothing, and says so); Ollama (a local server: 0 unless the user
sets a price); then genai-prices. A model genai-prices does not know costs
*unknown* (None), never a silent 0.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache

from workbench.providers.profiles import ProviderProfile

# Our API family -> genai-prices' provider id.
_PROVIDER_IDS = {"openai": "openai", "anthropic": "anthropic", "gemini": "google"}


@lru_cache(maxsize=1)
def _prices_version() -> str:
    try:
        from importlib.metadata import version

        return version("genai-prices")
    except Exception:  # pragma: no cover - metadata missing in odd installs
        return "?"


Rate = Callable[[int, int], float | None]
"""Cost in USD of (input tokens, output tokens) at one model's resolved price; None: unknown."""
_PER_MTOK = Decimal(1_000_000)


def _genai_rate(provider_id: str | None, model: str) -> tuple[Rate, str] | None:
    """genai-prices' price for ``model``, looked up once: a rate that needs no further
    lookup (tiers included), and where it came from; None if genai-prices does not know it.

    The model lookup (matching ``model`` against every model of the provider) is the
    costly part of ``calc_price``; this does it once. A price without tiers is linear in
    the two token counts, so the rate computes it with the same Decimal steps
    (price x count / 1e6, summed) and gives exactly ``calc_price``'s figure; a tiered
    one is left to genai-prices' own arithmetic for that model.
    """
    from genai_prices import Usage, calc_price
    from genai_prices.types import TieredPrices

    try:
        fixed = calc_price(
            Usage(input_tokens=0, output_tokens=0), model_ref=model, provider_id=provider_id
        )
    except LookupError:
        return None
    source = f"genai-prices {_prices_version()}: {fixed.provider.id}/{fixed.model.id}"
    model_price = fixed.model_price
    if any(isinstance(v, TieredPrices) for v in vars(model_price).values()):

        def tiered(inp: int, out: int) -> float | None:
            usage = Usage(input_tokens=inp, output_tokens=out)
            return float(model_price.calc_price(usage)["total_price"])

        return tiered, source
    base = fixed.total_price
    per_in = model_price.calc_price(Usage(input_tokens=1_000_000, output_tokens=0))
    per_out = model_price.calc_price(Usage(input_tokens=0, output_tokens=1_000_000))
    a, b = per_in["total_price"] - base, per_out["total_price"] - base

    def linear(inp: int, out: int) -> float | None:
        return float(base + a * inp / _PER_MTOK + b * out / _PER_MTOK)

    return linear, source


def rate_for(profile: ProviderProfile, model: str) -> tuple[Rate, str]:
    """``model``'s price on ``profile``, resolved once: (rate, where the price came from)."""
    override = profile.prices.get(model)
    if override is not None:
        pin, pout = override.input_per_mtok, override.output_per_mtok

        def rate(inp: int, out: int) -> float | None:
            return (inp * pin + out * pout) / 1e6

        return rate, f"profile {profile.name} override"
    if profile.family == "echo":
        return _free, "echo provider (no model called)"
    if profile.family == "ollama":
        return _free, "local Ollama (free unless a price override is set)"
    priced = _genai_rate(_PROVIDER_IDS.get(profile.family), model)
    if priced is None:
        return _unknown, f"unknown: genai-prices has no price for {model!r}"
    return priced


def _free(_inp: int, _out: int) -> float | None:
    return 0.0


def _unknown(_inp: int, _out: int) -> float | None:
    return None


def price_call(
    profile: ProviderProfile, model: str, input_tokens: int, output_tokens: int
) -> tuple[float | None, str]:
    """(cost in USD or None when unknown, where the price came from). One lookup per call:
    for many calls of one model, keep a :class:`Pricer`."""
    rate, source = rate_for(profile, model)
    return rate(input_tokens, output_tokens), source


class Pricer:
    """Prices looked up once per model (and profile override) and then reused: a run
    prices every planned call for its estimate and every finished cell without asking
    genai-prices again."""

    def __init__(self) -> None:
        self._rates: dict[tuple[object, ...], tuple[Rate, str]] = {}

    def _key(self, profile: ProviderProfile, model: str) -> tuple[object, ...]:
        override = profile.prices.get(model)
        rates = None if override is None else (override.input_per_mtok, override.output_per_mtok)
        return (profile.name, profile.family, model, rates)

    def rate(self, profile: ProviderProfile, model: str) -> tuple[Rate, str]:
        key = self._key(profile, model)
        found = self._rates.get(key)
        if found is None:
            found = self._rates[key] = rate_for(profile, model)
        return found

    def price(
        self, profile: ProviderProfile, model: str, input_tokens: int, output_tokens: int
    ) -> tuple[float | None, str]:
        rate, source = self.rate(profile, model)
        return rate(input_tokens, output_tokens), source
