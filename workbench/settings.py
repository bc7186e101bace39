"""Settings: declared once, typed, versioned; stored as JSON in the platform data directory.

Settings name keys (``key_name``); they never hold them. A file from an older
schema version is upgraded on load by the functions in ``_UPGRADES``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workbench.core.errors import UsageError
from workbench.core.files import write_atomic
from workbench.core.paths import APP_NAME as APP_NAME
from workbench.core.paths import data_dir as data_dir
from workbench.core.paths import default_vault_path as default_vault_path
from workbench.core.paths import model_lists_dir as model_lists_dir
from workbench.core.paths import settings_path as settings_path

SETTINGS_VERSION = 1


class ProviderBudget(BaseModel):
    """One provider profile's own caps in USD (None: no cap of its own)."""

    model_config = ConfigDict(extra="forbid")

    per_day_usd: float | None = Field(default=None, ge=0)
    per_month_usd: float | None = Field(default=None, ge=0)


class Budgets(BaseModel):
    """Hard caps in USD; None means no cap. Day and month caps hold during a run with
    the calls in flight counted (``workbench.app.budget``)."""

    model_config = ConfigDict(extra="forbid")

    per_run_usd: float | None = Field(default=None, ge=0)
    per_day_usd: float | None = Field(default=None, ge=0)
    per_month_usd: float | None = Field(default=None, ge=0)
    per_provider: dict[str, ProviderBudget] = Field(default_factory=dict)
    """Caps of single provider profiles, by profile name."""
    warn_at: float = Field(default=0.8, gt=0, le=1)
    """Share of a cap at which the app and the CLI warn before a run."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = SETTINGS_VERSION
    providers: list[dict[str, Any]] = Field(default_factory=list)
    """Provider profiles (``workbench.providers.profiles.ProviderProfile`` as JSON)."""
    default_models: list[str] = Field(default_factory=lambda: ["echo:echo"])
    concurrency: int = Field(default=8, ge=1, le=256)
    theme: Literal["system", "light", "dark"] = "system"
    budgets: Budgets = Budgets()
    vault_path: str | None = None
    registry_url: str | None = None
    registry_user: str | None = None
    registry_role: str | None = None
    """The registry login's role (author, reviewer, publisher, admin), as the registry
    said at login: data sources' allow-lists admit roles (``workbench.app.sources``)."""
    author: str | None = None
    """The name versions carry before a registry login is known (asked once on first run)."""
    sync_interval_s: int = Field(default=60, ge=0, le=86_400)
    """Background sync period in the desktop app; 0 turns it off."""
    lint: dict[str, dict[str, str | int]] = Field(default_factory=dict)
    """Per folder prefix ("" for all): rule -> off | warning | error, and token-budget
    (``workbench.app.lint``)."""
    log_retention_days: int | None = Field(default=None, ge=1)
    """How long ``workbench runs prune`` keeps runs (and their cells) when not told."""
    otel_endpoint: str | None = None
    """OTLP/HTTP traces URL (e.g. http://localhost:4318/v1/traces): each model call is
    exported as a GenAI span (``workbench.app.telemetry``). None: off."""

    @field_validator("lint")
    @classmethod
    def _lint_rules(cls, value: dict[str, dict[str, str | int]]) -> dict[str, dict[str, str | int]]:
        from workbench.core.lint_rules import check_config

        check_config(value)
        return value


# version N -> a function turning a version-N dict into a version-(N+1) dict.
_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def load_settings(path: Path | None = None) -> Settings:
    path = path or settings_path()
    if not path.exists():
        return Settings()
    try:
        data = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(
            f"the settings file {path} is not readable JSON ({exc})",
            hint="Fix it by hand, or move it away to start from defaults.",
        ) from exc
    version = int(data.get("version", 1)) if isinstance(data, dict) else 0
    if version > SETTINGS_VERSION:
        raise UsageError(
            f"the settings file {path} was written by a newer Prompt Workbench (v{version})",
            hint="Update the app, or move the file away to start from defaults.",
        )
    while version in _UPGRADES:
        data = _UPGRADES[version](data)
        version = int(data["version"])
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(
            f"the settings file {path} is invalid at {where}: {first['msg']}",
            hint="Fix that entry, or move the file away to start from defaults.",
        ) from exc


def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Atomic write: a crash never leaves half a settings file."""
    write_atomic(path or settings_path(), settings.model_dump_json(indent=2))
