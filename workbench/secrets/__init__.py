"""Secrets: provider keys and registry tokens, kept in the OS keychain only.

Settings store a key's name, never its value. Read keys with :func:`resolve_key`
(audited, and redacted from logs from then on); show error text only after
:func:`redact`.
"""

from workbench.secrets.errors import KeychainUnavailableError
from workbench.secrets.keyring_store import KeyringStore
from workbench.secrets.redaction import (
    REDACTED,
    RedactingFilter,
    install_redaction,
    redact,
    register_secret,
)
from workbench.secrets.resolve import KEYCHAIN_SOURCE, AuditCallback, resolve_key
from workbench.secrets.store import SERVICE_NAME, MemoryStore, SecretStore

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
