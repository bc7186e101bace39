"""The models a person can pick: what each profile's server lists, plus the names typed
in the profile.

A listing is asked for by :func:`list_models` (the one provider probe: the CLI's
``provider test``, the Settings dialog's "Test connection" and :func:`refresh_models`
all use it, with the profile's own timeouts and retry policy). Its answer is kept in a
:class:`ModelCache`, one small JSON file per profile in the data folder with the time
it was listed, so the window offers the models offline and at start-up without asking
again. A listing is only trusted for the server it came from: change a profile's
family or base URL and its cached models stop counting until it is listed again.

When a server cannot list its models (no listing endpoint, a refused key, offline),
the reason is kept with the cached entry, the names typed in the profile still count,
and models listed earlier by the same server are kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from workbench.app.services import key_resolver
from workbench.core.errors import WorkbenchError
from workbench.core.files import write_atomic
from workbench.providers.echo import MODELS as ECHO_MODELS
from workbench.providers.errors import ModelNotFoundError, ProviderError
from workbench.providers.http import make_http_client
from workbench.providers.profiles import ProviderProfile, make_client
from workbench.secrets.redaction import redact
from workbench.secrets.store import SecretStore
from workbench.settings import Settings, model_lists_dir

log = logging.getLogger(__name__)

__all__ = [
    "ModelCache",
    "ModelListing",
    "available_models",
    "list_models",
    "listing_for",
    "load_listings",
    "profiles_in",
    "refresh_models",
]


def _now() -> datetime:
    return datetime.now(UTC)


class ModelListing(BaseModel):
    """What one profile's server said about its models, and when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    profile: str
    family: str
    base_url: str
    models: tuple[str, ...] = ()
    """Listed by the server (sorted, unique); kept from an earlier listing when the
    last attempt failed."""
    listed_at: datetime | None = None
    """When ``models`` were listed; None: never listed successfully."""
    checked_at: datetime
    """The last attempt, successful or not."""
    error: str | None = None
    """Why the last attempt failed (secrets redacted); None when it succeeded."""

    def is_for(self, profile: ProviderProfile) -> bool:
        """True when this listing came from ``profile``'s server."""
        return (self.profile, self.family, self.base_url) == (
            profile.name,
            profile.family,
            profile.base_url,
        )

    def describe(self) -> str:
        """One line for people: what was listed when, or why it could not be."""
        if self.error is None:
            shown = ", ".join(self.models[:8]) + (" …" if len(self.models) > 8 else "")
            when = f"{self.checked_at.astimezone():%Y-%m-%d %H:%M}"
            return f"✔ {len(self.models)} models listed by the server at {when} ({shown})"
        text = f"✘ The server could not list its models: {self.error}"
        if self.models and self.listed_at is not None:
            text += (
                f" Still offering the {len(self.models)} it listed at "
                f"{self.listed_at.astimezone():%Y-%m-%d %H:%M}."
            )
        return text + " Names typed under Models are offered in Compare all the same."


class ModelCache:
    """Listings on disk: ``<root>/<profile>.json``, each written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def default(cls) -> ModelCache:
        """The data folder's cache (``WORKBENCH_DATA_DIR`` moves it)."""
        return cls(model_lists_dir())

    def _path(self, name: str) -> Path:
        return self.root / f"{name}.json"

    def get(self, profile: ProviderProfile) -> ModelListing | None:
        """The cached listing of ``profile``'s server, or None (none, another server,
        or an unreadable file: those are listed again, not an error)."""
        path = self._path(profile.name)
        try:
            listing = ModelListing.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, ValidationError) as exc:
            log.warning("ignoring the unreadable model list %s: %s", path, exc)
            return None
        return listing if listing.is_for(profile) else None

    def put(self, listing: ModelListing) -> None:
        write_atomic(self._path(listing.profile), listing.model_dump_json(indent=1))

    def remove(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)


def profiles_in(settings: Settings) -> list[ProviderProfile]:
    """The settings' profiles in their order; an invalid one is skipped with a warning
    (``workbench doctor`` and every run name what is wrong with it)."""
    out = []
    for raw in settings.providers:
        try:
            profile = ProviderProfile.model_validate(raw)
        except ValidationError as exc:
            log.warning("skipping the invalid provider profile %r: %s", raw.get("name"), exc)
            continue
        if profile.family != "echo":
            out.append(profile)
    return out


def available_models(settings: Settings, cache: ModelCache | None = None) -> list[str]:
    """Every ``profile:model`` a person can pick: the built-in echo, then per profile
    (in the settings' order) the models its server listed and the names typed in it."""
    cache = cache or ModelCache.default()
    out = [f"echo:{m}" for m in ECHO_MODELS]
    for profile in profiles_in(settings):
        listing = cache.get(profile)
        listed = listing.models if listing is not None else ()
        for model in sorted({*listed, *profile.models}):
            out.append(f"{profile.name}:{model}")
    return out


async def _list(profile: ProviderProfile, key: str | None) -> list[str]:
    http = make_http_client(max_connections=2, timeouts=profile.timeouts)
    try:
        return await make_client(profile, key, http).list_models()
    except ModelNotFoundError as exc:  # a 404 here is the listing itself, not a model
        raise ProviderError(
            f"{profile.base_url} has no model list ({exc.detail})",
            provider=profile.name,
            status=exc.status,
            hint="Type the model names under Models (comma-separated), or check the base URL.",
        ) from None
    finally:
        await http.aclose()


def list_models(profile: ProviderProfile, key: str | None) -> list[str]:
    """Ask ``profile``'s server for its models (blocking: call it off the GUI thread).

    Raises the provider's :class:`~workbench.core.errors.WorkbenchError` when it
    cannot (unreachable, refused key, no listing endpoint)."""
    return asyncio.run(_list(profile, key))


def listing_for(
    profile: ProviderProfile,
    models: list[str] | None,
    error: BaseException | None,
    previous: ModelListing | None = None,
) -> ModelListing:
    """The cache entry for a listing attempt: its models, or the reason it failed
    (keeping what the same server listed before)."""
    now = _now()
    common = {"profile": profile.name, "family": profile.family, "base_url": profile.base_url}
    if error is None:
        return ModelListing(
            **common, models=tuple(models or ()), listed_at=now, checked_at=now, error=None
        )
    text = error.describe() if isinstance(error, WorkbenchError) else str(error)
    kept = previous if previous is not None and previous.is_for(profile) else None
    return ModelListing(
        **common,
        models=kept.models if kept else (),
        listed_at=kept.listed_at if kept else None,
        checked_at=now,
        error=redact(text),
    )


def refresh_models(
    settings: Settings,
    secrets: SecretStore,
    cache: ModelCache | None = None,
    *,
    only_missing: bool = False,
    keys: Mapping[str, str] | None = None,
) -> dict[str, ModelListing]:
    """List every profile's models (all at once) and cache the answers; blocking.

    ``only_missing`` lists only profiles with nothing cached for their server (what a
    newly saved profile needs). ``keys`` maps key names to values that win over the
    keychain (keys typed but not stored yet). Returns the new listings by profile name;
    a profile that cannot list gets a listing with its reason, never an exception."""
    cache = cache or ModelCache.default()
    resolve = key_resolver(None, secrets)
    wanted: list[tuple[ProviderProfile, ModelListing | None]] = []
    for profile in profiles_in(settings):
        previous = cache.get(profile)
        if only_missing and previous is not None:
            continue
        wanted.append((profile, previous))
    if not wanted:
        return {}

    async def one(profile: ProviderProfile) -> list[str]:
        typed = (keys or {}).get(profile.key_name or "")
        key = typed if typed else await asyncio.to_thread(resolve, profile)
        return await _list(profile, key)

    async def every() -> list[list[str] | BaseException]:
        return await asyncio.gather(*(one(p) for p, _ in wanted), return_exceptions=True)

    answers = asyncio.run(every())
    out: dict[str, ModelListing] = {}
    for (profile, previous), answer in zip(wanted, answers, strict=True):
        if isinstance(answer, BaseException):
            if not isinstance(answer, WorkbenchError):
                raise answer  # a bug, not a server's answer: let it show
            listing = listing_for(profile, None, answer, previous)
        else:
            listing = listing_for(profile, answer, None)
        cache.put(listing)
        out[profile.name] = listing
    return out


def load_listings(settings: Settings, cache: ModelCache | None = None) -> dict[str, ModelListing]:
    """The cached listing of each profile in ``settings`` that has one."""
    cache = cache or ModelCache.default()
    found = {p.name: cache.get(p) for p in profiles_in(settings)}
    return {name: listing for name, listing in found.items() if listing is not None}
