"""The lint rules' names and default severities, and the check of a folder's lint
configuration (used by the settings, which sit below the app; the checks themselves
are in ``workbench.app.lint``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

DEFAULTS: dict[str, Literal["error", "warning"]] = {
    "syntax": "error",
    "key": "error",
    "size": "error",
    "render-limits": "error",
    "fallback": "error",
    "default-type": "error",
    "undeclared-variable": "warning",
    "unused-variable": "warning",
    "empty-message": "warning",
    "personal-data": "warning",
    "langfuse": "warning",
    "token-budget": "warning",
}
RULES = tuple(DEFAULTS)


def check_config(config: Mapping[str, Mapping[str, str | int]]) -> None:
    """Raise ValueError naming the first unknown rule or bad value."""
    for prefix, rules in config.items():
        for rule, value in rules.items():
            if rule == "token-budget":
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ValueError(f"lint {prefix!r}: token-budget must be a whole number > 0")
            elif rule not in DEFAULTS:
                raise ValueError(f"lint {prefix!r}: no rule {rule!r}; rules: {', '.join(RULES)}")
            elif value not in ("off", "warning", "error"):
                raise ValueError(f"lint {prefix!r}: {rule} must be off, warning or error")
