"""The vault's suites (migration 0011): an old vault upgrades; a pulled suite replaces
cases unchanged since the last sync and never cases changed here and not pushed."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.unit.vault.conftest import make_content
from workbench.core.models import utcnow
from workbench.core.runs import TestCase
from workbench.core.suites import suite_hash
from workbench.registry.review import mirrored_reviews
from workbench.vault import Vault
from workbench.vault.files import MIGRATIONS_DIR
from workbench.vault.suites import SuiteCopy, SuiteStore
from workbench.vault.sync_store import SyncStore

MINE = (TestCase(name="a", values={"question": "mine"}),)
THEIRS = (TestCase(name="a", values={"question": "theirs"}), TestCase(name="b"))


def _pull(vault: Vault, prompt: str, cases: tuple[TestCase, ...], cursor: int) -> list[str]:
    copy = SuiteCopy(prompt, suite_hash(cases) or "", cases, "bob", utcnow())
    return SyncStore(vault).apply_page([], [], [], cursor, suites=[copy]).kept_local_cases


def test_an_old_vault_upgrades_and_its_reviews_read_as_without_a_suite(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    path = tmp_path / "old.sqlite3"
    with Vault.open(path, create=True, actor="ada") as v:
        version = v.commit("p", make_content(), "1")
        v.set_number(version.id, 1)
        v.set_test_cases("p", MINE)
        review = {  # a mirrored review as the registry sent it before suites travelled
            "id": str(uuid.uuid4()), "prompt": "p", "version_id": str(version.id),
            "content_hash": version.content_hash, "reviewer": "bob", "decision": "approve",
            "comment": "", "evidence": None, "created_at": utcnow().isoformat(),
        }  # fmt: skip
        SyncStore(v).apply_page(
            [], [(str(review["id"]), "p", str(version.id), json.dumps(review))], [], 1
        )
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        with v.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0010")
            tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
            assert "suites" not in tables and "prompt_suites" not in tables
    with Vault.open(path) as v:  # opening migrates it to 0011
        store = SuiteStore(v)
        assert store.registry_hash("p") is None
        [push] = store.to_push()  # the next sync pushes the prompt's cases
        assert (push.prompt, push.hash, push.parent_hash) == ("p", suite_hash(MINE), None)
        [old] = mirrored_reviews(v, version.id)
        assert old.suite_hash is None


def test_pulled_suites_replace_unchanged_cases_and_keep_changed_ones(vault: Vault) -> None:
    version = vault.commit("p", make_content(), "1")
    vault.set_number(version.id, 1)
    store = SuiteStore(vault)
    assert _pull(vault, "p", MINE, 1) == []  # no local cases: take theirs
    assert vault.test_cases("p") == list(MINE)
    assert store.registry_hash("p") == suite_hash(MINE)
    assert store.to_push() == []
    assert _pull(vault, "p", THEIRS, 2) == []  # unchanged here since: replaced
    assert [c.name for c in vault.test_cases("p")] == ["a", "b"]
    assert store.suite(suite_hash(MINE)) == list(MINE)  # the old suite stays readable

    edited = (TestCase(name="a", values={"question": "edited here"}),)
    vault.set_test_cases("p", edited)
    newer = (*THEIRS, TestCase(name="c"))
    assert _pull(vault, "p", newer, 3) == ["p"]  # changed here: kept, and said so
    assert vault.test_cases("p") == list(edited)
    [push] = store.to_push()
    assert push.parent_hash == suite_hash(newer)
