from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from workbench.core.errors import (
    DuplicateError,
    IdenticalCommitError,
    NotAVaultError,
    NotFoundError,
    StaleLabelError,
    TemplateError,
    UsageError,
)
from workbench.core.models import Message, PromptContent
from workbench.vault import Vault
from workbench.vault.files import HEAD_REVISION, MIGRATIONS_DIR

from .conftest import make_content


def test_pragmas_and_marker(vault: Vault) -> None:
    with vault.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA application_id").scalar() == 0x50574231


def test_head_revision_matches_alembic() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD_REVISION


def test_commit_history_and_parents(vault: Vault) -> None:
    v1 = vault.commit("support/reply", make_content(), "first")
    v2 = vault.commit("support/reply", make_content(system="Be kind to {{ customer }}."), "kinder")
    history = vault.history("support/reply")
    assert [v.id for v in history] == [v1.id, v2.id]
    assert history[1].parent_ids == (v1.id,)
    assert history[0].content == v1.content
    assert all(v.hash_matches() for v in history)
    assert history[1].author == "ada"
    assert vault.get_version("support/reply", v1.short_id).id == v1.id
    assert vault.get_version("support/reply").id == v2.id


def test_identical_commit_refused(vault: Vault) -> None:
    vault.commit("a", make_content(), "first")
    with pytest.raises(IdenticalCommitError, match="identical to its parent"):
        vault.commit("a", make_content(), "again")
    assert len(vault.history("a")) == 1


def test_commit_needs_message_and_valid_template(vault: Vault) -> None:
    with pytest.raises(UsageError, match="message"):
        vault.commit("a", make_content(), "  ")
    bad = PromptContent(messages=(Message(role="user", template="ok\nok\n{% if x %}never closed"),))
    with pytest.raises(TemplateError) as info:
        vault.commit("a", bad, "broken")
    assert info.value.line == 3
    assert vault.prompt_names() == []  # nothing half-written


def test_fork_keeps_both_children(vault: Vault) -> None:
    root = vault.commit("p", make_content(), "root")
    a = vault.commit("p", make_content(system="A {{ customer }}"), "a", parents=[root.id])
    b = vault.commit("p", make_content(system="B {{ customer }}"), "b", parents=[root.id])
    assert {v.id for v in vault.heads("p")} == {a.id, b.id}
    merged = vault.commit("p", make_content(system="AB {{ customer }}"), "m", parents=[a.id, b.id])
    assert vault.heads("p") == [merged]


def test_unknown_parent_refused(vault: Vault) -> None:
    vault.commit("p", make_content(), "root")
    with pytest.raises(NotFoundError):
        vault.commit("p", make_content(system="x"), "x", parents=[uuid.uuid4()])


def test_create_prompt_and_duplicates(vault: Vault) -> None:
    vault.create_prompt("team/new")
    with pytest.raises(DuplicateError):
        vault.create_prompt("team/new")
    with pytest.raises(UsageError, match="invalid prompt name"):
        vault.create_prompt("bad name with spaces")
    assert vault.search("new")[0].prompt == "team/new"


def test_list_filters_and_paging(vault: Vault) -> None:
    for i in range(12):
        vault.commit(f"f{i % 2}/p{i:02d}", make_content(tags=("even",) if i % 2 == 0 else ()), "m")
    page = vault.list_prompts(limit=5)
    assert [p.name for p in page] == sorted(vault.prompt_names())[:5]
    assert all(p.versions == 1 and p.drafts == 1 for p in page)
    assert {p.name for p in vault.list_prompts(prefix="f1/")} == {
        f"f1/p{i:02d}" for i in range(1, 12, 2)
    }
    assert len(vault.list_prompts(tag="even")) == 6
    v = vault.history("f0/p00")[0]
    vault.move_label("f0/p00", "production", v.id, expected=None)
    assert [p.name for p in vault.list_prompts(label="production")] == ["f0/p00"]
    vault.set_archived("f0/p00")
    assert "f0/p00" not in [p.name for p in vault.list_prompts(limit=100)]


def test_search_names_tags_messages_templates(vault: Vault) -> None:
    vault.commit("billing/refund", make_content(system="Explain the refund policy."), "first")
    vault.commit(
        "billing/refund", make_content(system="Explain refunds gently.", tags=("finance",)), "tone"
    )
    vault.commit("support/greet", make_content(system="Say hello warmly."), "greeting words")
    assert [h.prompt for h in vault.search("policy")] == ["billing/refund"]  # older template
    assert [h.prompt for h in vault.search("finance")] == ["billing/refund"]
    assert [h.prompt for h in vault.search("greeting")] == ["support/greet"]
    assert [h.prompt for h in vault.search("billing")] == ["billing/refund"]
    assert vault.search("warm")[0].prompt == "support/greet"  # prefix match
    assert vault.search('"; DROP TABLE prompts; --') == []
    assert vault.search("") == []


def test_label_compare_and_swap(vault: Vault) -> None:
    v1 = vault.commit("p", make_content(), "1")
    v2 = vault.commit("p", make_content(system="two {{ customer }}"), "2")
    vault.move_label("p", "production", v1.id, expected=None)
    with pytest.raises(StaleLabelError) as info:
        vault.move_label("p", "production", v2.id, expected=None)
    assert info.value.actual == str(v1.id)
    vault.move_label("p", "production", v2.id, expected=v1.id)
    vault.move_label("p", "production", v1.id, expected=v2.id, reason="rollback")
    assert vault.labels("p")[0].version_id == v1.id
    assert vault.get_version("p", "production").id == v1.id
    with pytest.raises(UsageError):
        vault.move_label("p", "Bad Label", v1.id)
    other = vault.commit("q", make_content(), "q")
    with pytest.raises(NotFoundError):
        vault.move_label("p", "staging", other.id)


def test_audit_chain_detects_tampering(vault: Vault) -> None:
    vault.commit("p", make_content(), "1")
    v2 = vault.commit("p", make_content(system="2 {{ customer }}"), "2")
    vault.move_label("p", "production", v2.id)
    assert vault.verify_audit() is None
    events = vault.audit_events()
    assert [e.action for e in events] == [
        "prompt.create",
        "version.commit",
        "version.commit",
        "label.move",
    ]
    conn = sqlite3.connect(vault.path)
    conn.execute("UPDATE audit_events SET actor='mallory' WHERE seq=2")
    conn.commit()
    assert vault.verify_audit() == 2
    conn.execute("UPDATE audit_events SET actor='ada' WHERE seq=2")
    conn.execute("DELETE FROM audit_events WHERE seq=3")
    conn.commit()
    conn.close()
    assert vault.verify_audit() == 4


def test_not_a_vault(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(NotAVaultError, match="not a SQLite database"):
        Vault.open(text)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(NotAVaultError, match="not a Prompt Workbench vault"):
        Vault.open(other, create=True)
    with pytest.raises(UsageError, match="no vault"):
        Vault.open(tmp_path / "missing.sqlite3")
    with pytest.raises(NotAVaultError, match="directory"):
        Vault.open(tmp_path)


def test_reopen_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite3"
    with Vault.open(path, create=True) as v:
        version = v.commit("p", make_content(), "1")
    with Vault.open(path) as v:
        assert v.history("p") == [version]


def test_old_vault_is_migrated_with_a_backup(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    path = tmp_path / "old.sqlite3"
    with Vault.open(path, create=True) as v:
        version = v.commit("p", make_content(), "1")
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        with v.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0001")
    with Vault.open(path) as v:
        assert v.history("p") == [version]
        with v.engine.connect() as conn:
            rev = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        assert rev == HEAD_REVISION
    backup = tmp_path / "old.sqlite3.before-0001.bak"
    assert backup.exists()
    conn2 = sqlite3.connect(backup)
    assert conn2.execute("SELECT count(*) FROM versions").fetchone()[0] == 1
    conn2.close()
