"""The ``SecretStore`` protocol and its in-memory implementation.

Settings and the vault keep only a key's *name*; the value lives behind a
``SecretStore``. The application uses :class:`~workbench.secrets.keyring_store.KeyringStore`;
tests of other layers use :class:`MemoryStore`, which behaves the same way
(validation included) without touching the OS keychain.
"""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable

from workbench.core.errors import InputError

#: The keyring "service" every Prompt Workbench secret is stored under.
SERVICE_NAME = "prompt-workbench"

_MAX_NAME_LENGTH = 200


@runtime_checkable
class SecretStore(Protocol):
    """Where secrets live. Names are not secret; values are."""

    @property
    def backend_name(self) -> str:
        """What holds the secrets, for people (e.g. ``"SecretService Keyring"``)."""
        ...

    def get(self, name: str) -> str | None:
        """The value stored under ``name``, or None when there is none."""
        ...

    def set(self, name: str, value: str) -> None:
        """Store ``value`` under ``name``, replacing any previous value."""
        ...

    def delete(self, name: str) -> None:
        """Forget ``name``. Deleting a name that holds nothing is not an error."""
        ...


def validate_secret_name(name: str) -> str:
    """Check a secret's name; raise :class:`InputError` (never echoing a value)."""
    if not isinstance(name, str) or not name:
        raise InputError(
            "A secret needs a name.",
            hint="Name the key after its provider or registry, e.g. 'openai' or 'team-registry'.",
        )
    if len(name) > _MAX_NAME_LENGTH or any(ch.isspace() or not ch.isprintable() for ch in name):
        raise InputError(
            f"Invalid secret name {name[:60]!r}: use up to {_MAX_NAME_LENGTH} printable "
            "characters without spaces.",
            hint="Name the key after its provider or registry, e.g. 'openai' or 'team-registry'.",
        )
    return name


def validate_secret_value(name: str, value: str) -> str:
    """Check a value before storing it. The message names the key, never the value."""
    if not isinstance(value, str) or not value:
        raise InputError(
            f"The value for secret {name!r} is empty; nothing was stored.",
            hint="Paste the whole key. To remove a key, delete it instead.",
        )
    if value != value.strip() or any(not ch.isprintable() for ch in value):
        raise InputError(
            f"The value for secret {name!r} has surrounding spaces or control characters "
            "(a stray newline from copy and paste?); nothing was stored.",
            hint="Paste the key again without leading or trailing whitespace.",
        )
    return value


class MemoryStore:
    """A ``SecretStore`` in a dict: for tests and for sessions that must not persist."""

    backend_name = "memory"

    def __init__(self, initial: dict[str, str] | None = None) -> None:
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()
        for name, value in (initial or {}).items():
            self.set(name, value)

    def get(self, name: str) -> str | None:
        validate_secret_name(name)
        with self._lock:
            return self._values.get(name)

    def set(self, name: str, value: str) -> None:
        validate_secret_name(name)
        validate_secret_value(name, value)
        with self._lock:
            self._values[name] = value

    def delete(self, name: str) -> None:
        validate_secret_name(name)
        with self._lock:
            self._values.pop(name, None)

    def names(self) -> list[str]:
        """The stored names, sorted (a test convenience; keychains cannot list)."""
        with self._lock:
            return sorted(self._values)

    def __repr__(self) -> str:  # never show values
        return f"MemoryStore(names={self.names()!r})"
