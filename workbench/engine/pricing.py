"""What a call cost, from the maintained ``genai-prices`` data.

Order of precedence: the profile's own price override for the model; the echo
provider (costs nothing, and says so); Ollama (a local server: 0 unless the user
sets a price); then genai-prices. A model genai-prices does not know costs
*unknown* (None), never a silent 0.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from workbench.providers.profiles import ProviderProfile

log = logging.getLogger(__name__)

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


def _linear(base: Decimal, a: Decimal, b: Decimal) -> Rate:
    def linear(inp: int, out: int) -> float | None:
        return float(base + a * inp / _PER_MTOK + b * out / _PER_MTOK)

    return linear


class PriceCache:
    """genai-prices' answers kept in a JSON file, so a new process prices a model it
    priced before without importing genai-prices (0.3 s on these machines, a sixth of a
    one-call ``compare``). Keyed by the genai-prices version, so an upgrade asks again.
    Only linear prices are kept (as exact decimals) and "unknown"; tiered ones are
    computed by genai-prices each time. A cache that cannot be read or written is
    ignored: prices are then looked up as without one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, Any] | None = None

    def _key(self, provider_id: str | None, model: str) -> str:
        return f"{_prices_version()}|{provider_id or ''}|{model}"

    def _load(self) -> dict[str, Any]:
        if self._entries is None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self._entries = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self._entries = {}
        return self._entries

    def get(self, provider_id: str | None, model: str) -> tuple[Rate, str] | bool | None:
        """The cached (rate, source); None for a model cached as unknown; False when
        the cache has no answer."""
        entry = self._load().get(self._key(provider_id, model))
        if not isinstance(entry, dict):
            return False
        if entry.get("unknown"):
            return None
        try:
            base, a, b = (Decimal(entry[k]) for k in ("base", "in", "out"))
            return _linear(base, a, b), str(entry["source"])
        except (KeyError, ArithmeticError, ValueError, TypeError):
            return False

    def put(self, provider_id: str | None, model: str, entry: dict[str, str | bool]) -> None:
        from workbench.core.files import write_atomic

        entries = self._load()
        entries[self._key(provider_id, model)] = entry
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps(entries, sort_keys=True, indent=0))
        except OSError as exc:  # a cache: pricing goes on without it
            log.debug("price cache %s not written: %s", self.path, exc)


def _genai_rate(
    provider_id: str | None, model: str, cache: PriceCache | None = None
) -> tuple[Rate, str] | None:
    if cache is not None:
        cached = cache.get(provider_id, model)
        if cached is not False:
            return cached  # type: ignore[return-value]
    found, entry = _genai_lookup(provider_id, model)
    if cache is not None and entry is not None:
        cache.put(provider_id, model, entry)
    return found


def _genai_lookup(
    provider_id: str | None, model: str
) -> tuple[tuple[Rate, str] | None, dict[str, str | bool] | None]:
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
        return None, {"unknown": True}
    source = f"genai-prices {_prices_version()}: {fixed.provider.id}/{fixed.model.id}"
    model_price = fixed.model_price
    if any(isinstance(v, TieredPrices) for v in vars(model_price).values()):

        def tiered(inp: int, out: int) -> float | None:
            usage = Usage(input_tokens=inp, output_tokens=out)
            return float(model_price.calc_price(usage)["total_price"])

        return (tiered, source), None
    base = fixed.total_price
    per_in = model_price.calc_price(Usage(input_tokens=1_000_000, output_tokens=0))
    per_out = model_price.calc_price(Usage(input_tokens=0, output_tokens=1_000_000))
    a, b = per_in["total_price"] - base, per_out["total_price"] - base
    entry: dict[str, str | bool] = {"base": str(base), "in": str(a), "out": str(b)}
    return (_linear(base, a, b), source), {**entry, "source": source}


def rate_for(
    profile: ProviderProfile, model: str, cache: PriceCache | None = None
) -> tuple[Rate, str]:
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
    priced = _genai_rate(_PROVIDER_IDS.get(profile.family), model, cache)
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

    def __init__(self, cache: PriceCache | None = None) -> None:
        self._rates: dict[tuple[object, ...], tuple[Rate, str]] = {}
        self.cache = cache

    def _key(self, profile: ProviderProfile, model: str) -> tuple[object, ...]:
        override = profile.prices.get(model)
        rates = None if override is None else (override.input_per_mtok, override.output_per_mtok)
        return (profile.name, profile.family, model, rates)

    def rate(self, profile: ProviderProfile, model: str) -> tuple[Rate, str]:
        key = self._key(profile, model)
        found = self._rates.get(key)
        if found is None:
            found = self._rates[key] = rate_for(profile, model, self.cache)
        return found

    def price(
        self, profile: ProviderProfile, model: str, input_tokens: int, output_tokens: int
    ) -> tuple[float | None, str]:
        rate, source = self.rate(profile, model)
        return rate(input_tokens, output_tokens), source
