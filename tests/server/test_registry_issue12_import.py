"""Issue 12, item 7: ``vault import`` remembers which registry numbered a version. Into
a vault that syncs with another registry, those numbers are kept as provenance and the
versions push like drafts (no "pushed 0", no two v1). Two real registries under
uvicorn: the parametrized one (SQLite or PostgreSQL) and a second SQLite one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.server.conftest import RunningRegistry, running_registry
from workbench.core.models import Message, PromptContent, PromptVersion
from workbench.registry.server.config import RegistrySettings
from workbench.registry.sync import Syncer
from workbench.vault import Vault
from workbench.vault.sync_store import SyncStore


def _content(text: str) -> PromptContent:
    return PromptContent(messages=(Message(role="user", template=text),))


def _numbers(vault: Vault) -> list[int | None]:
    return [v.number for v in vault.history("support/reply")]


@contextmanager
def _numbered_elsewhere(tmp_path: Path) -> Iterator[tuple[RunningRegistry, Vault, PromptVersion]]:
    """A second registry, and a vault of it holding one version it numbered v1."""
    settings = RegistrySettings(db_url=f"sqlite:///{tmp_path / 'other.sqlite3'}")
    with running_registry(settings) as other:
        source = Vault.open(tmp_path / "source.sqlite3", create=True, actor="alice")
        theirs = source.commit("support/reply", _content("Theirs {{ name }}"), "theirs")
        Syncer(source, other.client("alice")).sync()
        yield other, source, theirs


def test_numbers_from_another_registry_are_provenance(
    tmp_path: Path, registry: RunningRegistry
) -> None:
    with _numbered_elsewhere(tmp_path) as (other, source, theirs):
        assert _numbers(source) == [1]
        bundle = source.export_bundle()
        assert bundle.registry == other.url

        target = Vault.open(tmp_path / "target.sqlite3", create=True, actor="alice")
        ours = target.commit("support/reply", _content("Ours {{ name }}"), "ours")
        Syncer(target, registry.client("alice")).sync()
        report = target.import_bundle(bundle)
        assert report.versions_added == 1
        assert report.numbers_as_provenance == 1
        assert target.version_by_id(theirs.id).number is None  # a draft here
        assert SyncStore(target).origin(theirs.id) == (other.url, 1)

        sync = Syncer(target, registry.client("alice")).sync()
        assert sync.pushed_versions == 1
        numbers = {v.id: v.number for v in target.history("support/reply")}
        assert numbers == {ours.id: 1, theirs.id: 2}  # no two v1
        assert [v.number for v in registry.client("bob").versions("support/reply")] == [1, 2]

        # Imported back into a vault of the registry that numbered them: kept as they are.
        same = Vault.open(tmp_path / "same.sqlite3", create=True, actor="alice")
        Syncer(same, other.client("alice")).sync()
        again = same.import_bundle(bundle)
        assert again.numbers_as_provenance == 0


def test_an_unbound_vault_demotes_foreign_numbers_when_it_first_syncs(
    tmp_path: Path, registry: RunningRegistry
) -> None:
    with _numbered_elsewhere(tmp_path) as (other, source, theirs):
        fresh = Vault.open(tmp_path / "fresh.sqlite3", create=True, actor="alice")
        fresh.import_bundle(source.export_bundle())
        assert _numbers(fresh) == [1]  # unbound: shown as the source numbered it
        report = Syncer(fresh, registry.client("alice")).sync()
        assert report.pushed_versions == 1
        assert fresh.version_by_id(theirs.id).number == 1
        assert registry.client("bob").version(theirs.id).number == 1
        assert SyncStore(fresh).origin(theirs.id) == (other.url, 1)
