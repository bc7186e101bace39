"""Secrets: provider keys and registry tokens, kept in the OS keychain only.

Settings store a key's name, never its value. Read keys with :func:`resolve_key`
(audited, and redacted from logs from then on); show error text only after
:func:`redact`.
"""

from typing import TYPE_CHECKING, Any

from workbench.secrets.errors import KeychainUnavailableError
from workbench.secrets.redaction import (
    REDACTED,
    RedactingFilter,
    install_redaction,
    redact,
    register_secret,
)
from workbench.secrets.resolve import KEYCHAIN_SOURCE, AuditCallback, resolve_key
from workbench.secrets.store import SERVICE_NAME, MemoryStore, SecretStore

if TYPE_CHECKING:
    from workbench.secrets.keyring_store import KeyringStore


def __getattr__(name: str) -> Any:
    # KeyringStore imports ``keyring`` (~0.1-0.3 s): only when it is asked for, so the
    # CLI's redaction and key resolution do not pay for a keychain they may never open.
    if name == "KeyringStore":
        from workbench.secrets.keyring_store import KeyringStore

        return KeyringStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "KEYCHAIN_SOURCE",
    "REDACTED",
    "SERVICE_NAME",
    "AuditCallback",
    "KeychainUnavailableError",
    "KeyringStore",
    "MemoryStore",
    "RedactingFilter",
    "SecretStore",
    "install_redaction",
    "redact",
    "register_secret",
    "resolve_key",
]
