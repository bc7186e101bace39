"""KeyringStore against a real, private Secret Service; and the ways there is none."""

from __future__ import annotations

from pathlib import Path

import keyring.backend
import pytest
from keyring.backends import SecretService, fail, null

from workbench.secrets import SERVICE_NAME, KeychainUnavailableError, KeyringStore, SecretStore


@pytest.mark.keychain
def test_round_trip_through_the_secret_service(secret_service: KeyringStore) -> None:
    store = secret_service
    assert isinstance(store, SecretStore)
    assert "SecretService" in store.backend_name
    assert store.get("openai") is None
    store.set("openai", "sk-proj-roundtrip-0123456789abcdef")
    store.set("openai", "sk-proj-replaced-0123456789abcdef")
    assert store.get("openai") == "sk-proj-replaced-0123456789abcdef"
    # Another store (a fresh backend object, as a new process would have) sees it.
    assert KeyringStore(SecretService.Keyring()).get("openai") == (
        "sk-proj-replaced-0123456789abcdef"
    )
    # It is stored under our service name, where keyring's own API finds it.
    assert keyring.get_password(SERVICE_NAME, "openai") == "sk-proj-replaced-0123456789abcdef"
    store.delete("openai")
    assert store.get("openai") is None
    store.delete("openai")  # absent: still fine


@pytest.mark.keychain
def test_default_store_uses_the_session_keychain(secret_service: KeyringStore) -> None:
    secret_service.set("team-registry", "wb-registry-token-abcdef")
    assert KeyringStore().get("team-registry") == "wb-registry-token-abcdef"


@pytest.mark.keychain
def test_locked_keychain_is_reported_not_prompted_forever(secret_service: KeyringStore) -> None:
    import secretstorage

    secret_service.set("openai", "sk-proj-locked-0123456789abcdef")
    with secretstorage.dbus_init() as conn:
        secretstorage.get_default_collection(conn).lock()
    # Nobody can answer the unlock prompt in this headless session.
    with pytest.raises(KeychainUnavailableError) as info:
        secret_service.get("openai")
    assert info.value.reason == "locked"
    assert "locked" in info.value.message
    assert "Unlock" in info.value.hint


def test_no_dbus_session_gives_a_helpful_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    store = KeyringStore(SecretService.Keyring())
    with pytest.raises(KeychainUnavailableError) as info:
        store.get("openai")
    err = info.value
    assert err.reason == "no-session"
    assert "no usable keychain" in err.message
    assert "gnome-keyring" in err.hint
    assert "KeePassXC" in err.hint
    assert "D-Bus" in err.hint
    with pytest.raises(KeychainUnavailableError):
        store.set("openai", "sk-proj-nowhere-0123456789abcdef")


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()])
def test_no_backend_is_refused(backend: keyring.backend.KeyringBackend) -> None:
    store = KeyringStore(backend)
    for attempt in (lambda: store.get("openai"), lambda: store.set("openai", "sk-abcdef123456")):
        with pytest.raises(KeychainUnavailableError) as info:
            attempt()
        assert info.value.reason == "no-backend"
        assert "no usable keychain" in info.value.message


class _PlaintextFileKeyring(keyring.backend.KeyringBackend):
    """A working backend that keeps passwords in a plain file, like keyrings.alt does."""

    priority = 1

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def get_password(self, service: str, username: str) -> str | None:
        if not self.path.exists():
            return None
        for line in self.path.read_text().splitlines():
            s, u, p = line.split("\t")
            if (s, u) == (service, username):
                return p
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        with self.path.open("a") as f:
            f.write(f"{service}\t{username}\t{password}\n")

    def delete_password(self, service: str, username: str) -> None:
        self.path.unlink(missing_ok=True)


# keyring judges backends by where they come from; pretend to be keyrings.alt's.
_PlaintextFileKeyring.__module__ = "keyrings.alt.file"


def test_plaintext_backend_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    backend = _PlaintextFileKeyring(tmp_path / "keyring_pass.cfg")
    store = KeyringStore(backend)
    with pytest.raises(KeychainUnavailableError) as info:
        store.set("openai", "sk-proj-plaintext-0123456789abcdef")
    assert info.value.reason == "plaintext"
    assert "plaintext" in info.value.message
    assert "keyrings.alt" in info.value.hint
    assert not backend.path.exists()
    with pytest.raises(KeychainUnavailableError):
        store.get("openai")
