"""List prices for production spans that carry tokens but no cost.

Production apps rarely send a cost attribute; their spans do carry the provider, the
model that answered and the token counts (the GenAI semantic conventions). The registry
prices those from the maintained ``genai-prices`` data, the same source the workbench
prices its own calls with, so production spending is a figure and not "unknown". A
cost the span states is kept as is; a model genai-prices does not know stays unpriced
(counted as such, never as $0). Each (provider, model) is looked up once per process.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from functools import lru_cache

from workbench.registry.server.otlp import GenAISpan

# gen_ai.provider.name (semantic conventions) -> genai-prices' provider id; other
# names are matched by the model alone.
_PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "google": "google",
    "mistral_ai": "mistral",
    "groq": "groq",
    "deepseek": "deepseek",
    "x_ai": "x-ai",
    "aws.bedrock": "aws",
    "azure.ai.openai": "azure",
}
_MTOK = Decimal(1_000_000)


@lru_cache(maxsize=1024)
def _rates(provider: str | None, model: str) -> tuple[Decimal, Decimal, Decimal] | None:
    """(base, per input Mtok, per output Mtok) of ``model``; None when unknown or tiered."""
    from genai_prices import Usage, calc_price
    from genai_prices.types import TieredPrices

    provider_id = _PROVIDERS.get(provider or "")
    try:
        fixed = calc_price(
            Usage(input_tokens=0, output_tokens=0), model_ref=model, provider_id=provider_id
        )
    except LookupError:
        return None
    price = fixed.model_price
    if any(isinstance(v, TieredPrices) for v in vars(price).values()):
        return None  # tiered by context size: not priced from totals alone
    base = fixed.total_price
    per_in = price.calc_price(Usage(input_tokens=1_000_000, output_tokens=0))["total_price"]
    per_out = price.calc_price(Usage(input_tokens=0, output_tokens=1_000_000))["total_price"]
    return base, per_in - base, per_out - base


def list_price(provider: str | None, model: str, inp: int, out: int) -> float | None:
    rates = _rates(provider, model)
    if rates is None:
        return None
    base, a, b = rates
    return float(base + a * inp / _MTOK + b * out / _MTOK)


def priced(span: GenAISpan) -> GenAISpan:
    """``span`` with its list price when it carries tokens and a model but no cost."""
    model = span.response_model or span.request_model
    if span.cost_usd is not None or model is None:
        return span
    if span.input_tokens is None or span.output_tokens is None:
        return span
    cost = list_price(span.provider, model, span.input_tokens, span.output_tokens)
    return span if cost is None else dataclasses.replace(span, cost_usd=cost)
