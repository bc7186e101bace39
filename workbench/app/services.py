"""Wiring: settings -> provider profiles, the keychain, the engine. Used by CLI and UI alike."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import ValidationError

from workbench.core.errors import NotFoundError, UsageError
from workbench.engine.runner import ECHO_PROFILE, Engine
from workbench.providers.profiles import ProviderProfile
from workbench.secrets.resolve import resolve_key
from workbench.secrets.store import SecretStore
from workbench.settings import Settings, load_settings, save_settings
from workbench.vault.direct import DirectVault

if TYPE_CHECKING:
    import uuid
    from collections.abc import Mapping, Sequence
    from typing import Any

    from workbench.app.source_resolve import SourceResolver
    from workbench.core.errors import WorkbenchError
    from workbench.core.models import PromptVersion
    from workbench.core.runs import RunSpec
    from workbench.engine.runner import BindingResolver
    from workbench.vault import Vault

log = logging.getLogger(__name__)


def profiles_from(settings: Settings) -> dict[str, ProviderProfile]:
    out: dict[str, ProviderProfile] = {"echo": ECHO_PROFILE}
    for raw in settings.providers:
        try:
            profile = ProviderProfile.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise UsageError(
                f"provider profile {raw.get('name', '?')!r} in the settings is invalid: "
                f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}",
                hint="Fix it with: workbench provider add NAME ... (it replaces the profile)",
            ) from exc
        out[profile.name] = profile
    return out


def save_profile(profile: ProviderProfile, settings: Settings | None = None) -> Settings:
    if profile.name == "echo":
        raise UsageError("'echo' is the built-in echo provider", hint="Choose another name.")
    settings = settings or load_settings()
    raw = profile.model_dump(mode="json")
    names = [p.get("name") for p in settings.providers]
    if profile.name in names:  # replaced where it was: the list keeps its order
        settings.providers[names.index(profile.name)] = raw
    else:
        settings.providers.append(raw)
    save_settings(settings)
    return settings


def remove_profile(name: str, settings: Settings | None = None) -> Settings:
    settings = settings or load_settings()
    remaining = [p for p in settings.providers if p.get("name") != name]
    if len(remaining) == len(settings.providers):
        raise NotFoundError(
            f"no provider profile named {name!r}", hint="See: workbench provider list"
        )
    settings.providers = remaining
    save_settings(settings)
    return settings


def key_resolver(
    vault: Vault | DirectVault | None, store: SecretStore | None = None
) -> Callable[[ProviderProfile], str | None]:
    """Keys for profiles: keychain first, then the profile's env var; each read audited.
    The keychain is opened (and ``keyring`` imported, ~0.1-0.3 s) only for a profile that
    names a keychain entry."""
    stores: list[SecretStore] = [] if store is None else [store]

    def keychain() -> SecretStore:
        if not stores:
            from workbench.secrets.keyring_store import KeyringStore

            stores.append(KeyringStore())
        return stores[0]

    def audit(key_name: str, source: str) -> None:
        if vault is not None:
            vault.record_event("key.read", key_name, {"source": source})

    def resolve(profile: ProviderProfile) -> str | None:
        if profile.key_name is None and profile.key_env is None:
            return None
        if profile.key_name is None:
            import os

            value = os.environ.get(profile.key_env or "") or None
            if value is not None:
                from workbench.secrets.redaction import register_secret

                register_secret(value)
                audit(profile.key_env or "", f"env:{profile.key_env}")
            return value
        return resolve_key(keychain(), profile.key_name, profile.key_env, audit=audit)

    return resolve


def make_engine(
    vault: Vault | DirectVault, settings: Settings | None = None, store: SecretStore | None = None
) -> Engine:
    from workbench.core.paths import data_dir
    from workbench.engine.pricing import PriceCache, Pricer

    settings = settings or load_settings()
    pricer = Pricer(PriceCache(data_dir() / "price-cache.json"))
    return Engine(
        vault,
        profiles_from(settings),
        keys=key_resolver(vault, store),
        pricer=pricer,
        bindings=run_bindings(vault, store),
    )


def run_bindings(vault: Vault | DirectVault, store: SecretStore | None = None) -> BindingResolver:
    """The engine's resolver of bound variables over either kind of vault."""
    if isinstance(vault, DirectVault):
        return DeferredBindings(vault, store)
    return source_resolver(vault, store)


class DeferredBindings:
    """Bound variables for a run on the plain-SQL vault: the full vault (SQLAlchemy,
    the data sources' readers) is opened only for a version that has one."""

    def __init__(self, vault: DirectVault, store: SecretStore | None) -> None:
        self.vault = vault
        self.store = store
        self._resolver: BindingResolver | None = None

    def resolve(
        self, spec: RunSpec, versions: Sequence[PromptVersion], estimate: bool
    ) -> Mapping[tuple[uuid.UUID, int], Mapping[str, Any] | WorkbenchError]:
        if not any(v.binding is not None for ver in versions for v in ver.content.variables):
            return {}
        if self._resolver is None:
            self._resolver = source_resolver(self.vault.orm(), self.store)
        return self._resolver.resolve(spec, versions, estimate)


def source_resolver(vault: Vault, store: SecretStore | None = None) -> SourceResolver:
    """Bound variables resolved from data sources, as the person whose role the settings
    know (read again for every run: a login may change it)."""
    from workbench.app.identity import known_role
    from workbench.app.source_resolve import SourceResolver

    return SourceResolver(vault, role=lambda: known_role(load_settings()), secrets=store)
