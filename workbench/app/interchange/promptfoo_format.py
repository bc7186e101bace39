"""The vocabulary promptfoo configurations and the workbench share, for both
directions (:mod:`.promptfoo` reads, :mod:`.promptfoo_export` writes): provider ids,
assertion kinds, thresholds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from workbench.core.models import split_model_ref

HINT = "See 'Interchange' in the README for what a promptfoo configuration may hold."

FAMILIES = ("openai", "anthropic", "ollama")
"""Provider prefixes that map to a workbench profile of the same family and name."""
API_WORDS = {"chat", "messages", "completion", "responses"}
EXPORT_IDS = {
    "openai": "openai:chat:{}",
    "anthropic": "anthropic:messages:{}",
    "ollama": "ollama:chat:{}",
}

MAPPED: dict[str, str] = {
    "contains": "contains",
    "icontains": "contains (ignore_case)",
    "not-contains": "not_contains",
    "not-icontains": "not_contains (ignore_case)",
    "contains-all": "one contains per value",
    "icontains-all": "one contains (ignore_case) per value",
    "contains-any": "regex (one of the values)",
    "icontains-any": "regex (one of the values, any case)",
    "equals": "equals (text values)",
    "starts-with": "starts_with",
    "regex": "regex",
    "not-regex": "not_regex",
    "is-json": "json, or json_schema with a schema",
    "contains-json": "json (stricter: the whole answer must be JSON)",
    "similar": "similar (a text distance instead of embeddings; threshold kept, default 0.75)",
    "llm-rubric": "rubric on a 0-1 scale (threshold default 0.5), grader from provider",
    "cost": "max_cost_usd",
    "latency": "max_latency_ms",
    "finish-reason": "finish_reason",
}
"""promptfoo assertion kind -> the workbench assertion it becomes (README table)."""

LENGTH_JS = re.compile(r"^\s*(?:return\s+)?output\.length\s*<=\s*(\d+)\s*;?\s*$")
SIMILAR_DEFAULT = 0.75
"""promptfoo's default threshold for ``similar``."""
RUBRIC_THRESHOLD = 0.5


def first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return str(exc.errors()[0].get("msg", "invalid")).removeprefix("Value error, ")
    return str(exc)


def map_provider(provider_id: str) -> str | None:
    """A workbench ``PROFILE:MODEL`` for a promptfoo provider id, or None."""
    if provider_id == "echo":
        return "echo:echo"
    family, _, rest = provider_id.partition(":")
    if family not in FAMILIES or not rest:
        return None
    parts = rest.split(":")
    if len(parts) > 1 and parts[0] in API_WORDS:
        parts = parts[1:]
    model = ":".join(parts)
    return f"{family}:{model}" if model else None


def provider_id(ref: str, profiles: Mapping[str, tuple[str, str]]) -> tuple[str, dict[str, Any]]:
    """promptfoo's id for a workbench ``PROFILE:MODEL`` (and its config: the profile's
    base URL when it is not the family's own). ``profiles``: name -> (family, base URL)."""
    profile, model = split_model_ref(ref)
    family, base_url = profiles.get(profile, (profile, ""))
    if family == "echo":
        return "echo", {}
    if family in EXPORT_IDS:
        config: dict[str, Any] = {}
        if base_url and family == "openai" and "api.openai.com" not in base_url:
            config["apiBaseUrl"] = base_url
        return EXPORT_IDS[family].format(model), config
    return ref, {}
