"""What a call cost, from the maintained ``genai-prices`` data.

Order of precedence: the profile's own price override for the model; the echo
provider (costs nothing, and says so); Ollama (a local server: 0 unless the user
sets a price); then genai-prices. A model genai-prices does not know costs
*unknown* (None), never a silent 0.
"""

from __future__ import annotations

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


def _genai_price(
    provider_id: str | None, model: str, inp: int, out: int
) -> tuple[float, str] | None:
    """genai-prices' price for exactly these tokens (tiers included); None if unknown."""
    from genai_prices import Usage, calc_price

    try:
        calc = calc_price(
            Usage(input_tokens=inp, output_tokens=out), model_ref=model, provider_id=provider_id
        )
    except LookupError:
        return None
    return float(
        calc.total_price
    ), f"genai-prices {_prices_version()}: {calc.provider.id}/{calc.model.id}"


def price_call(
    profile: ProviderProfile, model: str, input_tokens: int, output_tokens: int
) -> tuple[float | None, str]:
    """(cost in USD or None when unknown, where the price came from)."""
    override = profile.prices.get(model)
    if override is not None:
        cost = (
            input_tokens * override.input_per_mtok + output_tokens * override.output_per_mtok
        ) / 1e6
        return cost, f"profile {profile.name} override"
    if profile.family == "echo":
        return 0.0, "echo provider (no model called)"
    if profile.family == "ollama":
        return 0.0, "local Ollama (free unless a price override is set)"
    priced = _genai_price(_PROVIDER_IDS.get(profile.family), model, input_tokens, output_tokens)
    if priced is None:
        return None, f"unknown: genai-prices has no price for {model!r}"
    return priced
