"""The daily spending rollups (migration 0012): what ``costs`` and budgets read equals
the sum of the run log's cells, for a vault filled before them too; pruning the log
keeps cumulative spending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from workbench.core.models import Message, PromptContent
from workbench.core.runs import CellKey, CellResult, ModelRef, Run, RunSpec, TestCase
from workbench.vault import Vault
from workbench.vault.files import MIGRATIONS_DIR
from workbench.vault.runs import RunStore
from workbench.vault.schema import CellRow
from workbench.vault.spending import COST_GROUPS

MINI, LOCAL = ModelRef.parse("oa:gpt-4o-mini"), ModelRef.parse("local:llama3")


def _fill(vault: Vault) -> None:
    version = vault.commit("p", PromptContent(messages=(Message(role="user", template="Hi"),)), "1")
    store = RunStore(vault)
    now = datetime.now(UTC)
    for days_ago in (0, 1, 9, 40):
        run = Run(spec=RunSpec(prompt="p", version_ids=(version.id,), models=(MINI, LOCAL),
                               cases=(TestCase(name="a"),), repeats=3))  # fmt: skip
        store.start(run)
        at = now - timedelta(days=days_ago)
        cells = []
        for i, (model, cost, err, cached) in enumerate(
            [(MINI, 0.01, None, False), (MINI, None, "server_error", False),
             (LOCAL, None, None, False), (MINI, 0.5, None, True),
             (LOCAL, 0.002, None, False), (MINI, 0.03, None, False)]
        ):  # fmt: skip
            key = CellKey(version_id=version.id, model=model, case_index=0, repeat=i % 3)
            cells.append(
                CellResult(key=key, output="x", cost_usd=cost, error_kind=err, cached=cached,
                           input_tokens=10 + i, output_tokens=3, finished_at=at)
            )  # fmt: skip
        store.add_cells(run.id, cells, cache=False)
        store.finish(run.id, "finished")


def _from_cells(vault: Vault) -> dict[str, float]:
    with vault.reading() as s:
        rows = [CellResult.model_validate_json(d) for d in s.scalars(select(CellRow.data))]
    spent = [c for c in rows if not c.cached]
    return {
        "calls": len(spent),
        "usd": sum(c.cost_usd or 0.0 for c in spent),
        "unpriced": sum(1 for c in spent if c.cost_usd is None and c.error_kind is None),
        "tokens": sum(c.input_tokens or 0 for c in spent),
    }


def _from_rollups(store: RunStore) -> dict[str, float]:
    [g] = store.costs_by("prompt")
    return {
        "calls": g.calls,
        "usd": g.cost.priced_usd,
        "unpriced": g.cost.unpriced_calls,
        "tokens": g.input_tokens,
    }


def test_rollups_equal_the_cells_in_every_grouping_and_period(tmp_path: Path) -> None:
    with Vault.open(tmp_path / "v.sqlite3", create=True, actor="ada") as vault:
        _fill(vault)
        store = RunStore(vault)
        expected = _from_cells(vault)
        assert _from_rollups(store) == expected
        for by in COST_GROUPS:
            groups = store.costs_by(by)
            assert sum(g.calls for g in groups) == expected["calls"], by
            assert abs(sum(g.cost.priced_usd for g in groups) - expected["usd"]) < 1e-12, by
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        # the budgets' periods start at UTC midnight: read from the rollups, same figure
        assert abs(store.spent_since(today) - 0.042) < 1e-12
        assert store.priced_counts_since(today) == (3, 1)
        assert abs(store.spent_since(today, profile="local") - 0.002) < 1e-12
        later = today + timedelta(minutes=1)  # not a midnight: from the cells
        with vault.reading() as s:
            newest = s.scalar(select(func.max(CellRow.finished_at)))
        want = 0.042 if newest and newest >= later else 0.0
        assert abs(store.spent_since(later) - want) < 1e-12
        [week] = [g for g in store.costs_by("week", since=today)]
        assert week.calls == 5


def test_an_older_vault_gets_its_rollups_from_its_cells_and_prune_keeps_them(
    tmp_path: Path,
) -> None:
    from alembic import command
    from alembic.config import Config

    path = tmp_path / "old.sqlite3"
    with Vault.open(path, create=True, actor="ada") as vault:
        _fill(vault)
        expected = _from_cells(vault)
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        with vault.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0011")
    with Vault.open(path) as vault:  # upgraded on open: the rollups filled from the cells
        store = RunStore(vault)
        assert _from_rollups(store) == expected
        runs, cells = store.prune(datetime.now(UTC) + timedelta(days=1))
        assert runs == 4 and cells == 24
        assert _from_rollups(store) == expected  # cumulative spending outlives the log
