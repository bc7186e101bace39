"""Model lists: what each profile's server lists (cached per profile) plus typed names."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.providerserver.server import DEFAULT_KEY, ProviderServer
from workbench.app.models import (
    ModelCache,
    available_models,
    list_models,
    refresh_models,
)
from workbench.providers.profiles import ProviderProfile
from workbench.secrets.store import MemoryStore
from workbench.settings import Settings

LISTED = ("alpha-large", "beta-mini", "gamma-7b")


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    with ProviderServer(models=LISTED) as srv:
        yield srv


def _settings(*profiles: ProviderProfile) -> Settings:
    return Settings(providers=[p.model_dump(mode="json") for p in profiles])


def _profile(name: str, base_url: str, **extra: object) -> ProviderProfile:
    return ProviderProfile.model_validate(
        {"name": name, "family": "openai", "base_url": base_url, "key_name": "k", **extra}
    )


def test_listed_models_are_cached_and_offered(server: ProviderServer, tmp_path: Path) -> None:
    cache = ModelCache(tmp_path / "lists")
    work = _profile("work", server.base_url("openai"), models=["typed-only"])
    settings = _settings(work)
    assert available_models(settings, cache) == ["echo:echo", "work:typed-only"]

    listings = refresh_models(settings, MemoryStore({"k": DEFAULT_KEY}), cache)

    assert listings["work"].models == LISTED
    assert listings["work"].error is None
    assert available_models(settings, cache) == [
        "echo:echo",
        "work:alpha-large",
        "work:beta-mini",
        "work:gamma-7b",
        "work:typed-only",
    ]
    stored = json.loads((tmp_path / "lists" / "work.json").read_text())
    assert stored["models"] == list(LISTED)
    assert stored["listed_at"] is not None
    assert DEFAULT_KEY not in (tmp_path / "lists" / "work.json").read_text()


def test_only_missing_lists_profiles_with_nothing_cached(
    server: ProviderServer, tmp_path: Path
) -> None:
    cache = ModelCache(tmp_path / "lists")
    a = _profile("a", server.base_url("openai"))
    settings = _settings(a)
    store = MemoryStore({"k": DEFAULT_KEY})
    refresh_models(settings, store, cache)
    server.clear_requests()
    b = _profile("b", server.base_url("openai"))
    listed = refresh_models(_settings(a, b), store, cache, only_missing=True)
    assert list(listed) == ["b"]
    assert len(server.requests) == 1


def test_a_listing_counts_only_for_the_server_it_came_from(
    server: ProviderServer, tmp_path: Path
) -> None:
    cache = ModelCache(tmp_path / "lists")
    work = _profile("work", server.base_url("openai"))
    refresh_models(_settings(work), MemoryStore({"k": DEFAULT_KEY}), cache)
    moved = _profile("work", "http://127.0.0.1:9/v1", models=["mine"])
    assert available_models(_settings(moved), cache) == ["echo:echo", "work:mine"]


def test_a_server_that_cannot_list_keeps_typed_names_and_says_why(
    server: ProviderServer, tmp_path: Path
) -> None:
    cache = ModelCache(tmp_path / "lists")
    good = _profile("work", server.base_url("openai"), models=["typed-model"])
    store = MemoryStore({"k": DEFAULT_KEY})
    refresh_models(_settings(good), store, cache)

    store.set("k", "sk-wrong-key-0000000000000")
    listing = refresh_models(_settings(good), store, cache)["work"]

    assert listing.error is not None
    assert "401" in listing.error or "key" in listing.error.lower()
    assert "sk-wrong-key" not in listing.error
    assert listing.models == LISTED  # kept from the earlier listing by the same server
    assert "could not list" in listing.describe()
    assert "work:typed-model" in available_models(_settings(good), cache)
    assert "work:beta-mini" in available_models(_settings(good), cache)


def test_no_listing_endpoint_is_a_reason_not_a_crash(
    server: ProviderServer, tmp_path: Path
) -> None:
    cache = ModelCache(tmp_path / "lists")
    bare = _profile("bare", server.url + "/no-such-api/v1", models=["by-hand"])
    listing = refresh_models(_settings(bare), MemoryStore({"k": DEFAULT_KEY}), cache)["bare"]
    assert listing.error
    assert listing.models == ()
    assert available_models(_settings(bare), cache) == ["echo:echo", "bare:by-hand"]
    # The reason survives a restart: it is read back from the cache file.
    reread = ModelCache(tmp_path / "lists").get(bare)
    assert reread is not None and reread.error == listing.error


def test_typed_keys_win_over_the_keychain(server: ProviderServer, tmp_path: Path) -> None:
    cache = ModelCache(tmp_path / "lists")
    work = _profile("work", server.base_url("openai"))
    listing = refresh_models(_settings(work), MemoryStore(), cache, keys={"k": DEFAULT_KEY})
    assert listing["work"].models == LISTED


def test_list_models_returns_the_servers_names_sorted(server: ProviderServer) -> None:
    work = _profile("work", server.base_url("openai"))
    assert list_models(work, DEFAULT_KEY) == list(LISTED)


def test_an_unreadable_cache_file_is_listed_again(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path / "lists")
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "work.json").write_text("{not json")
    work = _profile("work", "http://127.0.0.1:9/v1", models=["m"])
    assert cache.get(work) is None
    assert available_models(_settings(work), cache) == ["echo:echo", "work:m"]


def test_cli_provider_test_lists_what_the_window_offers(
    server: ProviderServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One probe: `workbench provider test` caches the same list the window offers."""
    from workbench.cli.main import main
    from workbench.settings import load_settings

    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OA_KEY", DEFAULT_KEY)
    monkeypatch.delenv("WORKBENCH_VAULT", raising=False)
    url = server.base_url("openai")
    assert main(["provider", "add", "oa", "--family", "openai", "--base-url", url,
                 "--key-env", "OA_KEY"]) == 0  # fmt: skip
    assert main(["provider", "add", "zz", "--family", "ollama", "--base-url", url]) == 0
    capsys.readouterr()
    assert main(["provider", "test", "oa", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["models"]
    assert listed == list(LISTED)
    settings = load_settings()
    offered = [m for m in available_models(settings) if m.startswith("oa:")]
    assert offered == [f"oa:{m}" for m in listed]
    # Replacing a profile keeps its place in the list.
    assert main(["provider", "add", "oa", "--family", "openai", "--base-url", url]) == 0
    assert [p["name"] for p in load_settings().providers] == ["oa", "zz"]
