"""Provider profiles: which server, which API family, which key *name*, what limits.

A profile never holds a key: ``key_name`` names a keychain entry and
``key_env`` may name an environment variable for headless CI; the key itself
is fetched by ``workbench.secrets`` and handed to :func:`make_client`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workbench.core.errors import MissingKeyError, UsageError
from workbench.providers.anthropic import AnthropicClient
from workbench.providers.base import Family, ProviderClient
from workbench.providers.echo import EchoClient
from workbench.providers.gemini import GeminiClient
from workbench.providers.http import ProviderHttp
from workbench.providers.ollama import DEFAULT_BASE_URL as OLLAMA_URL
from workbench.providers.ollama import OllamaClient, detect_ollama
from workbench.providers.openai import OpenAIClient
from workbench.providers.policy import RetryPolicy, Timeouts

__all__ = [
    "DEFAULT_BASE_URLS",
    "PriceOverride",
    "ProviderProfile",
    "detect_ollama",
    "format_prices",
    "make_client",
    "parse_price",
    "parse_prices",
    "profile_problem",
]

DEFAULT_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
    "ollama": OLLAMA_URL,
    "echo": "",
}


class PriceOverride(BaseModel):
    """USD per million tokens; wins over genai-prices for that model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


PRICE_FORMAT = "MODEL=INPUT,OUTPUT in USD per million tokens, e.g. my-model=0.5,1.5"


def parse_price(text: str) -> tuple[str, PriceOverride]:
    """``MODEL=INPUT,OUTPUT`` (USD per million input and output tokens) as a model and
    its price. Raises ValueError naming the text and how to write it."""
    model, sep, rates = text.strip().rpartition("=")
    parts = rates.split(",")
    model = model.strip()
    try:
        if not sep or not model or len(parts) != 2:
            raise ValueError
        inp, out = float(parts[0]), float(parts[1])
        if not (0 <= inp < float("inf") and 0 <= out < float("inf")):
            raise ValueError
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a price: write {PRICE_FORMAT}") from None
    return model, PriceOverride(input_per_mtok=inp, output_per_mtok=out)


def parse_prices(text: str) -> dict[str, PriceOverride]:
    """Several prices, separated by ``;`` or new lines (the form of :func:`format_prices`)."""
    out: dict[str, PriceOverride] = {}
    for part in text.replace("\n", ";").split(";"):
        if part.strip():
            model, price = parse_price(part)
            out[model] = price
    return out


def format_prices(prices: dict[str, PriceOverride]) -> str:
    """``a=0.5,1.5; b=0,0``: what :func:`parse_prices` reads back."""
    return "; ".join(
        f"{m}={p.input_per_mtok:g},{p.output_per_mtok:g}" for m, p in sorted(prices.items())
    )


class ProviderProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    family: Family
    base_url: str = ""
    """Empty means the family's public endpoint."""
    key_name: str | None = Field(default=None, min_length=1, max_length=200)
    key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    concurrency: int | None = Field(default=None, ge=1, le=512)
    """The profile's own limit on calls in flight; a run gets min(its own, this). None
    (the default): no limit of its own, the run's concurrency applies."""
    prices: dict[str, PriceOverride] = Field(default_factory=dict)
    models: tuple[str, ...] = ()
    """Extra model names typed by hand. The models the server lists are offered as well,
    without typing them (``workbench.app.models`` lists and caches them); these are for
    models a server does not list, or a server that cannot list at all."""
    timeouts: Timeouts = Timeouts()
    retry: RetryPolicy = RetryPolicy()

    @field_validator("base_url")
    @classmethod
    def _valid_url(cls, url: str) -> str:
        url = url.strip().rstrip("/")
        if not url:
            return url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base URL {url!r} must look like https://host[:port][/path]")
        if parts.username or parts.password or parts.query:
            raise ValueError(
                "the base URL must not carry credentials or a query; "
                "store the key with `workbench key set NAME` and name it in the profile"
            )
        return url

    @model_validator(mode="after")
    def _default_url(self) -> ProviderProfile:
        if not self.base_url and self.family != "echo":
            object.__setattr__(self, "base_url", DEFAULT_BASE_URLS[self.family])
        return self

    @property
    def needs_key(self) -> bool:
        return self.key_name is not None or self.key_env is not None


_FIELD_RULES = {
    "name": "a profile name uses letters, digits, '_', '.', '-' (no spaces), at most 64",
    "key_env": "an environment variable name: letters, digits and '_', not starting "
    "with a digit (e.g. OPENAI_API_KEY)",
    "key_name": "a key name has 1 to 200 characters",
    "concurrency": "concurrency is a whole number from 1 to 512",
}


def profile_problem(exc: Any) -> str:
    """The first problem of a profile's ValidationError in words (no regex, no pydantic
    phrasing): "name 'bad name': a profile name uses letters, ... (no spaces)"."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ()))
    rule = _FIELD_RULES.get(field)
    if rule is None:
        message = str(first.get("msg", "invalid"))
        return f"{field}: {message.removeprefix('Value error, ')}" if field else message
    shown = first.get("input")
    return f"{field} {shown!r}: {rule}" if isinstance(shown, str | int) else f"{field}: {rule}"


def make_client(
    profile: ProviderProfile,
    api_key: str | None,
    http_client: ProviderHttp | None,
    **overrides: Any,
) -> ProviderClient:
    """The client for a profile. ``overrides`` reach the client (e.g. ``sleep`` in tests)."""
    if profile.family == "echo":
        return EchoClient(profile.name)
    if http_client is None:
        raise UsageError(
            f"profile {profile.name!r} calls {profile.base_url} and needs an HTTP client",
            hint="Create one with workbench.providers.http.make_http_client().",
        )
    if profile.needs_key and not api_key:
        key = profile.key_name or profile.key_env
        raise MissingKeyError(
            f"profile {profile.name!r} needs the key {key!r}, and none was found",
            hint=f"Store it with `workbench key set {profile.key_name or 'NAME'}`"
            + (f" or set ${profile.key_env}" if profile.key_env else "")
            + ".",
        )
    common: dict[str, Any] = {
        "name": profile.name,
        "base_url": profile.base_url,
        "api_key": api_key,
        "http": http_client,
        "policy": profile.retry,
        "timeouts": profile.timeouts,
        **overrides,
    }
    if profile.family == "openai":
        host = urlsplit(profile.base_url).hostname or ""
        field = "max_completion_tokens" if host == "api.openai.com" else "max_tokens"
        return OpenAIClient(max_tokens_field=field, **common)
    if profile.family == "anthropic":
        return AnthropicClient(**common)
    if profile.family == "gemini":
        return GeminiClient(**common)
    return OllamaClient(**common)
