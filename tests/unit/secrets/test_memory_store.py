"""MemoryStore: the SecretStore other layers test against must behave like the real one."""

from __future__ import annotations

import pytest

from workbench.core.errors import InputError
from workbench.secrets import MemoryStore, SecretStore


def test_round_trip_replace_and_delete() -> None:
    store = MemoryStore()
    assert store.get("openai") is None
    store.set("openai", "sk-first-value-0001")
    store.set("openai", "sk-second-value-0002")
    assert store.get("openai") == "sk-second-value-0002"
    store.delete("openai")
    assert store.get("openai") is None
    store.delete("openai")  # deleting what is not there is fine


def test_is_a_secret_store_and_never_shows_values() -> None:
    store = MemoryStore({"anthropic": "sk-ant-do-not-show-me"})
    assert isinstance(store, SecretStore)
    assert store.backend_name == "memory"
    assert store.names() == ["anthropic"]
    assert "do-not-show-me" not in repr(store)


@pytest.mark.parametrize("name", ["", "has space", "tab\there", "x" * 201, "new\nline"])
def test_bad_names_are_refused(name: str) -> None:
    store = MemoryStore()
    with pytest.raises(InputError) as info:
        store.set(name, "value-123456")
    assert info.value.hint
    assert store.names() == []


@pytest.mark.parametrize("value", ["", " padded-key-123", "key-with-newline-123\n", "nul\x00key"])
def test_bad_values_are_refused_without_echoing_them(value: str) -> None:
    store = MemoryStore()
    with pytest.raises(InputError) as info:
        store.set("openai", value)
    assert info.value.hint
    if value.strip():
        assert value.strip() not in info.value.describe()
    assert store.get("openai") is None
