"""The run log as the app and the CLI use it: :class:`RunStore`, one class over its
parts. The engine's writes (a run started, cells appended with spending and cache,
the run closed, orphans swept) are :class:`~workbench.vault.run_log.RunLog`'s, the
one implementation of them in plain SQL; reading runs back is ``run_queries``;
spending is ``spending``; pruning the log is here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select

from workbench.core.runs import CellResult, Run, RunStatus
from workbench.vault.repository import Vault
from workbench.vault.run_queries import RunListing, RunQueries
from workbench.vault.schema import CellRow, RunRow, RunSummaryRow
from workbench.vault.spending import COST_GROUPS, SpendingQueries

__all__ = ["COST_GROUPS", "RunListing", "RunStore"]


class RunStore(RunQueries, SpendingQueries):
    """Persistence of runs over the full vault. Cells arrive in batches; each batch is
    one transaction (:meth:`RunLog.add_cells`). The first store or log made over an
    open vault marks its orphaned runs (still "running", their process gone) as
    interrupted, with the cost and count of the cells they kept."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self.writes = vault.run_log()

    def mark_interrupted(self) -> list[str]:
        """Close every run whose owning process is gone; returns their ids."""
        return self.writes.mark_interrupted()

    def start(self, run: Run) -> None:
        self.writes.start(run)

    def add_cells(self, run_id: uuid.UUID, cells: Sequence[CellResult], cache: bool = True) -> None:
        """Append finished cells (and cache their answers) in one transaction."""
        self.writes.add_cells(run_id, cells, cache)

    def finish(self, run_id: uuid.UUID, status: RunStatus, only_if_running: bool = False) -> None:
        """Mark the run ended, with its cost and summary rows (see :meth:`RunLog.finish`)."""
        self.writes.finish(run_id, status, only_if_running)

    def count_cells(self, run_id: uuid.UUID) -> int:
        """How many cells of the run the vault holds (the engine checks it at close)."""
        return self.writes.count_cells(run_id)

    def cached(self, request_hash: str) -> CellResult | None:
        return self.writes.cached(request_hash)

    def cached_many(self, hashes: Sequence[str]) -> dict[str, CellResult]:
        return self.writes.cached_many(hashes)

    def prune(self, before: datetime) -> tuple[int, int]:
        """Delete the runs started before ``before`` (never one still running), with
        their cells and summaries; (runs, cells) deleted. Recorded in the audit log."""
        old = (RunRow.started_at < before) & (RunRow.status != "running")
        with self.vault.writing() as s:
            ids = list(s.scalars(select(RunRow.id).where(old)))
            cells = 0
            if ids:
                cells = int(s.scalar(select(func.count()).where(CellRow.run_id.in_(ids))) or 0)
                s.execute(delete(CellRow).where(CellRow.run_id.in_(ids)))
                s.execute(delete(RunSummaryRow).where(RunSummaryRow.run_id.in_(ids)))
                s.execute(delete(RunRow).where(RunRow.id.in_(ids)))
        if ids:
            self.vault.record_event(
                "runs.prune",
                "runs",
                {"before": before.isoformat(), "runs": len(ids), "cells": cells},
            )
        return len(ids), cells
