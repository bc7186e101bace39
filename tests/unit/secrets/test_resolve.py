"""resolve_key: keychain first, then the environment; audited by name, never value."""

from __future__ import annotations

import logging

import pytest

from workbench.secrets import (
    KEYCHAIN_SOURCE,
    KeychainUnavailableError,
    KeyringStore,
    MemoryStore,
    redact,
    resolve_key,
)


class _AuditLog:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def __call__(self, key_name: str, source: str) -> None:
        self.events.append((key_name, source))


def test_keychain_wins_over_environment() -> None:
    audit = _AuditLog()
    store = MemoryStore({"openai": "sk-from-keychain-000111"})
    env = {"OPENAI_API_KEY": "sk-from-environment-222333"}
    value = resolve_key(store, "openai", "OPENAI_API_KEY", audit=audit, environ=env)
    assert value == "sk-from-keychain-000111"
    assert audit.events == [("openai", KEYCHAIN_SOURCE)]


def test_environment_used_when_keychain_has_nothing_and_never_persisted() -> None:
    audit = _AuditLog()
    store = MemoryStore()
    env = {"OPENAI_API_KEY": "sk-from-environment-444555"}
    value = resolve_key(store, "openai", "OPENAI_API_KEY", audit=audit, environ=env)
    assert value == "sk-from-environment-444555"
    assert audit.events == [("openai", "env:OPENAI_API_KEY")]
    assert store.get("openai") is None


def test_nothing_anywhere_gives_none_and_no_audit_event() -> None:
    audit = _AuditLog()
    assert resolve_key(MemoryStore(), "openai", "OPENAI_API_KEY", audit=audit, environ={}) is None
    assert resolve_key(MemoryStore(), "openai", audit=audit, environ={}) is None
    env = {"OPENAI_API_KEY": ""}  # set but empty counts as unset
    assert resolve_key(MemoryStore(), "openai", "OPENAI_API_KEY", audit=audit, environ=env) is None
    assert audit.events == []


def test_values_read_are_registered_for_redaction() -> None:
    # Not shaped like any known key, so only registration can hide it.
    secret = "plain-registry-token-9f8e7d6c"
    store = MemoryStore({"team-registry": secret})
    resolve_key(store, "team-registry", environ={})
    assert redact(f"GET /api failed with token {secret}") == "GET /api failed with token [REDACTED]"


def test_env_used_when_there_is_no_keychain() -> None:
    from keyring.backends import fail

    audit = _AuditLog()
    store = KeyringStore(fail.Keyring())
    env = {"ANTHROPIC_API_KEY": "sk-ant-ci-only-key-777"}
    value = resolve_key(store, "anthropic", "ANTHROPIC_API_KEY", audit=audit, environ=env)
    assert value == "sk-ant-ci-only-key-777"
    assert audit.events == [("anthropic", "env:ANTHROPIC_API_KEY")]


def test_no_keychain_and_no_env_says_both_ways_out() -> None:
    from keyring.backends import fail

    with pytest.raises(KeychainUnavailableError) as info:
        resolve_key(KeyringStore(fail.Keyring()), "anthropic", "ANTHROPIC_API_KEY", environ={})
    assert "no usable keychain" in info.value.message
    assert "ANTHROPIC_API_KEY" in info.value.hint
    assert "gnome-keyring" in info.value.hint


def test_audit_never_receives_the_value(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def audit(key_name: str, source: str) -> None:
        seen.extend([key_name, source])
        logging.getLogger("workbench.audit").info("read %s from %s", key_name, source)

    resolve_key(MemoryStore({"openai": "sk-audit-check-123456789"}), "openai", audit=audit)
    assert "sk-audit-check-123456789" not in " ".join(seen)
    assert "sk-audit-check-123456789" not in caplog.text
