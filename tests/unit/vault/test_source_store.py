"""Data sources in the vault: versions on every edit, allow-lists beside the hashed
definition, soft removal, every change and read audited (never a value); the
migration makes the same tables as the ORM."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core.errors import DuplicateError, NotFoundError, UsageError
from workbench.core.sources import Resolution, SourceAccess, SourceDefinition
from workbench.vault import Vault
from workbench.vault.sources import SourceStore


def _csv(path: str = "/data/customers.csv") -> SourceDefinition:
    return SourceDefinition(kind="csv", path=path)


def test_an_edit_is_a_new_version_and_access_is_not_hashed(vault: Vault) -> None:
    store = SourceStore(vault)
    v1 = store.add("customers", _csv(), SourceAccess(prompts=("support/",)))
    assert (v1.number, v1.author, v1.removed) == (1, "ada", False)
    v2 = store.edit("customers", access=SourceAccess(prompts=("support/", "sales/pitch")))
    assert v2.number == 2 and v2.definition_hash == v1.definition_hash  # same definition
    v3 = store.edit("customers", definition=_csv("/data/other.csv"))
    assert v3.number == 3 and v3.definition_hash != v1.definition_hash
    assert v3.access.prompts == ("sales/pitch", "support/")  # kept from v2
    assert [v.number for v in store.versions("customers")] == [1, 2, 3]
    assert store.get("customers", 1).definition == _csv()
    newest = store.by_hash("customers", v1.definition_hash)
    assert newest is not None and newest.number == 2  # the newest with it
    assert store.by_hash("customers", "0" * 64) is None
    with pytest.raises(UsageError, match="nothing to change"):
        store.edit("customers", definition=_csv("/data/other.csv"))
    with pytest.raises(DuplicateError, match="already exists"):
        store.add("customers", _csv(), SourceAccess())
    actions = [(e.action, e.detail.get("version")) for e in vault.audit_events()]
    assert actions == [("source.add", 1), ("source.edit", 2), ("source.edit", 3)]
    assert vault.verify_audit() is None


def test_removed_sources_keep_their_versions_and_come_back_as_the_next(vault: Vault) -> None:
    store = SourceStore(vault)
    store.add("crm", _csv(), SourceAccess(prompts=("a",)))
    store.remove("crm")
    assert store.list_sources() == []
    assert [s.name for s in store.list_sources(include_removed=True)] == ["crm"]
    assert store.get("crm").removed
    with pytest.raises(UsageError, match="was removed"):
        store.edit("crm", definition=_csv("/x.csv"))
    again = store.add("crm", _csv("/y.csv"), SourceAccess(prompts=("a",)))
    assert again.number == 2 and not again.removed
    with pytest.raises(NotFoundError, match="no data source named 'nope'"):
        store.get("nope")


def test_bad_definitions_and_names_are_refused_plainly(vault: Vault) -> None:
    with pytest.raises(ValueError, match="holds a password"):
        SourceDefinition(kind="sql", url="postgresql://u:hunter22@db/crm", query="SELECT 1")
    with pytest.raises(ValueError, match="needs url and query"):
        SourceDefinition(kind="sql")
    with pytest.raises(ValueError, match="takes no query"):
        SourceDefinition(kind="csv", path="/a.csv", query="SELECT 1")
    with pytest.raises(ValueError, match="not a variable name"):
        SourceDefinition(kind="http", url="http://h/{a.b}")
    with pytest.raises(UsageError, match="invalid source name"):
        SourceStore(vault).add("Bad Name", _csv(), SourceAccess())
    assert SourceDefinition(
        kind="sql",
        url="sqlite:////d.db",
        query="SELECT a FROM t WHERE id = :id AND x::int = 1 AND y = :id",
    ).parameters() == ["id"]


def test_allow_lists_match_names_folders_and_cumulative_roles() -> None:
    access = SourceAccess(prompts=("support/", "sales/pitch"), roles=("reviewer",))
    assert access.allows_prompt("support/reply") and access.allows_prompt("sales/pitch")
    assert not access.allows_prompt("supportive") and not access.allows_prompt("sales/pitch2")
    assert access.allows_role("publisher") and access.allows_role("reviewer")
    assert not access.allows_role("author") and not access.allows_role("boss")
    assert not SourceAccess().allows_prompt("anything")


def test_a_read_is_audited_without_a_value(vault: Vault) -> None:
    store = SourceStore(vault)
    v = store.add("crm", _csv(), SourceAccess(prompts=("a",)))
    store.record_resolutions(
        [
            Resolution(
                source="crm", source_version=1, definition_hash=v.definition_hash,
                prompt="a", version_id="abc", rows=3, reads=2, cases=2,
            )
        ]
    )  # fmt: skip
    event = vault.audit_events()[-1]
    assert (event.action, event.subject, event.actor) == ("source.resolve", "crm", "ada")
    assert event.detail == {
        "source_version": 1, "definition_hash": v.definition_hash, "prompt": "a",
        "version_id": "abc", "rows": 3, "reads": 2, "cases": 2, "failed": 0,
    }  # fmt: skip


def test_the_migration_makes_the_orm_tables(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from workbench.vault.schema import Base

    with Vault.open(tmp_path / "v.sqlite3", create=True) as v, v.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    ours = [d for d in diff if "data_source" in repr(d)]
    assert ours == []
