"""The team registry connection, one rule for both front ends.

The URL comes from the settings; the token from the keychain, or, when the keychain
holds none (or there is no keychain, as on a CI runner), from
``WORKBENCH_REGISTRY_TOKEN`` (never persisted). The CLI, the window and ``doctor``
each built this themselves, and the window ignored the variable: a token given to a
CI job worked for ``workbench sync`` and not for the app started by the same job.

Only the hints differ between the front ends: each names what its person can do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from workbench.core.errors import UsageError
from workbench.secrets.resolve import resolve_key
from workbench.secrets.store import SecretStore

if TYPE_CHECKING:
    from workbench.registry.client import RegistryClient
    from workbench.settings import Settings

TOKEN_ENV = "WORKBENCH_REGISTRY_TOKEN"

FrontEnd = Literal["cli", "app"]

_NO_URL_HINT: dict[FrontEnd, str] = {
    "cli": "Log in first: workbench registry login URL",
    "app": "Enter its URL and your token in Settings → Registry.",
}
_NO_TOKEN_HINT: dict[FrontEnd, str] = {
    "cli": "Log in again: workbench registry login {url} (or set {env} for this process).",
    "app": "Enter your token in Settings → Registry (ask a registry admin for one).",
}


def keyring_secrets() -> SecretStore:
    from workbench.secrets.keyring_store import KeyringStore

    return KeyringStore()


@dataclass(frozen=True)
class RegistryConnection:
    """How to reach the registry. :meth:`token` and :meth:`open` read the keychain
    (30-40 ms per call on a real Secret Service): the window calls them on a worker
    thread, never in a loop on the GUI thread."""

    url: str | None
    secrets: Callable[[], SecretStore] = keyring_secrets
    front_end: FrontEnd = "cli"
    environ: Mapping[str, str] | None = None  # os.environ when None

    def __post_init__(self) -> None:
        if self.url:
            object.__setattr__(self, "url", self.url.rstrip("/"))

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        secrets: Callable[[], SecretStore] = keyring_secrets,
        front_end: FrontEnd = "cli",
    ) -> RegistryConnection:
        if settings is None:
            from workbench.settings import load_settings

            settings = load_settings()
        return cls(settings.registry_url, secrets, front_end)

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def require_url(self) -> str:
        if not self.url:
            raise UsageError("no team registry is configured", hint=_NO_URL_HINT[self.front_end])
        return self.url

    def token(self) -> str | None:
        """The token, from the keychain or else the environment; None when neither has
        one. Raises ``KeychainUnavailableError`` with no keychain and no variable."""
        from workbench.registry.sync import token_key_name

        url = self.require_url()
        return resolve_key(self.secrets(), token_key_name(url), TOKEN_ENV, environ=self.environ)

    def open(self) -> RegistryClient:
        """A client with the token; a clear error when there is no URL or token."""
        from workbench.registry.client import RegistryClient

        url = self.require_url()
        token = self.token()
        if not token:
            raise UsageError(
                f"there is no token for {url} in the keychain",
                hint=_NO_TOKEN_HINT[self.front_end].format(url=url, env=TOKEN_ENV),
            )
        return RegistryClient(url, token)
