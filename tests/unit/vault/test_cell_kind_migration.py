"""Migration 0009: a vault whose run log predates grading calls keeps every call as a
cell of its run (kind ``call``), and a run made after it keeps its grading calls apart."""

from __future__ import annotations

import asyncio
from pathlib import Path

from workbench.core.assertions import Assertion
from workbench.core.models import Message, PromptContent
from workbench.core.runs import ModelRef, RunSpec, TestCase
from workbench.engine.runner import Engine
from workbench.vault import Vault
from workbench.vault.files import MIGRATIONS_DIR
from workbench.vault.runs import RunStore


def _run(vault: Vault, *assertions: Assertion) -> RunSpec:
    version = vault.get_version("p")
    spec = RunSpec(
        prompt="p", version_ids=(version.id,), models=(ModelRef.parse("echo:echo"),),
        cases=(TestCase(name="a", assertions=assertions),),
    )  # fmt: skip
    asyncio.run(Engine(vault, {}).run(spec))
    return spec


def test_old_run_logs_read_as_calls_after_the_migration(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    path = tmp_path / "old.sqlite3"
    with Vault.open(path, create=True, actor="ada") as v:
        v.commit("p", PromptContent(messages=(Message(role="user", template="Hi"),)), "1")
        _run(v)
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        with v.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0008")
            assert "kind" not in {
                row[1] for row in conn.exec_driver_sql("PRAGMA table_info(cells)")
            }
    with Vault.open(path) as v:
        store = RunStore(v)
        [old] = store.list_runs("p")
        assert store.count_cells(old.id) == 1
        assert [e.cell.kind for e in store.log()] == ["call"]
        _run(v, Assertion(type="rubric", value="polite", model="echo:echo"))
        kinds = sorted(e.cell.kind for e in store.log())
        assert kinds == ["call", "call", "grader"]
        new = store.list_runs("p")[0]
        assert len(store.load(new.id).cells) == 1
