"""``KeyringStore``: secrets in the OS keychain through the ``keyring`` library.

macOS Keychain and Windows Credential Manager work out of the box; on Linux keyring
talks to a Secret Service (GNOME Keyring, KeePassXC) over the D-Bus session bus.
When there is no such keychain, or only one that would write plaintext
(``keyrings.alt``), every operation raises :class:`KeychainUnavailableError` saying
so plainly and how to fix it. There is never a silent fallback to a file.

Each call opens its own D-Bus connection (~30-40 ms): keep calls off the GUI thread.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import keyring
import keyring.backend
import keyring.errors

from workbench.secrets.errors import KeychainUnavailableError
from workbench.secrets.redaction import redact
from workbench.secrets.store import SERVICE_NAME, validate_secret_name, validate_secret_value

T = TypeVar("T")

# keyring's "there is nothing" backends: every call fails, or silently does nothing.
_NO_KEYCHAIN_BACKENDS = {"keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"}
# Module prefixes of backends that keep secrets in files we will not trust with keys.
_PLAINTEXT_MODULE_PREFIXES = ("keyrings.alt",)


def _hint() -> str:
    if sys.platform == "darwin" or sys.platform == "win32":
        return (
            "The macOS Keychain and the Windows Credential Manager work out of the box; "
            "check that no other keyring backend is configured (keyring's "
            "PYTHON_KEYRING_BACKEND or keyringrc.cfg)."
        )
    return (
        "On Linux, install and start a Secret Service: GNOME Keyring "
        "(apt-get install gnome-keyring) or KeePassXC with its Secret Service "
        "integration turned on, inside a desktop session with D-Bus. In a shell "
        "without one: dbus-run-session -- bash, then "
        "'gnome-keyring-daemon --unlock --components=secrets' (it reads the password "
        "on stdin). On macOS and Windows the system keychain works out of the box."
    )


def _qualified_name(backend: object) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _chained(backend: keyring.backend.KeyringBackend) -> list[keyring.backend.KeyringBackend]:
    """The backends a ChainerBackend would use, else just ``backend``."""
    from keyring.backends.chainer import ChainerBackend

    if isinstance(backend, ChainerBackend):
        return list(backend.backends)
    return [backend]


class KeyringStore:
    """A ``SecretStore`` in the OS keychain, under the service ``prompt-workbench``.

    ``backend`` defaults to whatever ``keyring`` detects (looked up on first use,
    so constructing a store never blocks or fails). Pass one explicitly to pin it,
    e.g. ``keyring.backends.SecretService.Keyring()`` in tests with a private bus.
    """

    def __init__(
        self,
        backend: keyring.backend.KeyringBackend | None = None,
        *,
        service: str = SERVICE_NAME,
    ) -> None:
        self._backend = backend
        self._service = service

    @property
    def backend(self) -> keyring.backend.KeyringBackend:
        if self._backend is None:
            self._backend = keyring.get_keyring()
        return self._backend

    @property
    def backend_name(self) -> str:
        backend = self.backend
        name = getattr(backend, "name", None)
        return str(name) if name else _qualified_name(backend)

    def get(self, name: str) -> str | None:
        validate_secret_name(name)
        value: str | None = self._call(lambda b: b.get_password(self._service, name))
        return value

    def set(self, name: str, value: str) -> None:
        validate_secret_name(name)
        validate_secret_value(name, value)
        self._call(lambda b: b.set_password(self._service, name, value))

    def delete(self, name: str) -> None:
        validate_secret_name(name)

        def delete(backend: keyring.backend.KeyringBackend) -> None:
            try:
                backend.delete_password(self._service, name)
            except keyring.errors.PasswordDeleteError:
                # keyring says "no such password" this way; an absent key is deleted.
                # Only when the keychain itself is fine, though: probe it.
                backend.get_password(self._service, name)

        self._call(delete)

    def check(self) -> None:
        """Raise :class:`KeychainUnavailableError` unless the keychain answers now."""
        self.get("__workbench_probe__")

    def _call(self, operation: Callable[[keyring.backend.KeyringBackend], T]) -> T:
        backend = self._usable_backend()
        with self._translate_errors():
            return operation(backend)

    def _usable_backend(self) -> keyring.backend.KeyringBackend:
        backend = self.backend
        chain = _chained(backend)
        plaintext = [b for b in chain if type(b).__module__.startswith(_PLAINTEXT_MODULE_PREFIXES)]
        if plaintext:
            names = ", ".join(_qualified_name(b) for b in plaintext)
            raise KeychainUnavailableError(
                f"There is no usable keychain: the keyring backend {names} keeps keys in a "
                "plaintext file, and Prompt Workbench refuses to store keys that way.",
                hint="Uninstall it (pip uninstall keyrings.alt) and use the system keychain. "
                + _hint(),
                reason="plaintext",
                backend_name=names,
            )
        if all(_qualified_name(b) in _NO_KEYCHAIN_BACKENDS for b in chain):
            raise KeychainUnavailableError(
                "There is no usable keychain on this machine: no OS keychain or Secret "
                "Service was found, so provider keys cannot be stored or read.",
                hint=_hint(),
                reason="no-backend",
                backend_name=_qualified_name(backend),
            )
        return backend

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        """Turn keyring/secretstorage/D-Bus failures into one plain error."""
        try:
            yield
        except keyring.errors.NoKeyringError as exc:
            raise self._unavailable(
                "no OS keychain or Secret Service was found", "no-backend"
            ) from exc
        except keyring.errors.KeyringLocked as exc:
            raise self._unavailable(
                "the keychain is locked and was not unlocked (was the unlock prompt dismissed?)",
                "locked",
                hint="Unlock the keychain (log in to the desktop session, or open your "
                "keychain app and unlock the 'login' collection), then try again. " + _hint(),
            ) from exc
        except keyring.errors.InitError as exc:
            # Typically "Prompt dismissed": no collection exists and nobody could be
            # asked to create or unlock one (a headless session, or the person said no).
            raise self._unavailable(
                f"the keychain could not be opened ({exc})",
                "locked",
                hint="Unlock or create the default ('login') keychain collection in your "
                "keychain app, then try again. " + _hint(),
            ) from exc
        except keyring.errors.KeyringError as exc:
            raise self._unavailable(f"the keychain failed ({exc})", "error") from exc
        except Exception as exc:
            # secretstorage/jeepney errors: no session bus, no Secret Service on it,
            # or the bus went away (OSError). Everything else is a real bug.
            if not _is_dbus_failure(exc):
                raise
            raise self._unavailable(
                f"no Secret Service is reachable on a D-Bus session ({exc})", "no-session"
            ) from exc

    def _unavailable(self, why: str, reason: str, *, hint: str = "") -> KeychainUnavailableError:
        return KeychainUnavailableError(
            redact(f"There is no usable keychain on this machine: {why}."),
            hint=hint or _hint(),
            reason=reason,
            backend_name=self.backend_name,
        )

    def __repr__(self) -> str:
        return f"KeyringStore(service={self._service!r}, backend={self._backend!r})"


def _is_dbus_failure(exc: BaseException) -> bool:
    module = type(exc).__module__
    return isinstance(exc, OSError) or module.startswith(("secretstorage", "jeepney"))
