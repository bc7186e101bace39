"""Runs and cells in the vault: the one run log of every model call, and the response cache.

:class:`RunStore` is the engine's store: this module holds a run's lifecycle (its owner
process, start, cell batches, close, prune) and the response cache; reading runs back is
:mod:`workbench.vault.run_queries`, spending rollups :mod:`workbench.vault.spending`."""

from __future__ import annotations

import os
import socket
import uuid
import weakref
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update

from workbench.core.models import utcnow
from workbench.core.money import cost_total
from workbench.core.runs import CellResult, Run, RunStatus, summarize
from workbench.vault.repository import Vault
from workbench.vault.run_queries import MATRIX, RunListing, RunQueries
from workbench.vault.schema import CacheRow, CellRow, RunRow, RunSummaryRow
from workbench.vault.spending import COST_GROUPS, SpendingQueries, add_spending

__all__ = ["COST_GROUPS", "RunListing", "RunStore", "owner_alive", "process_owner"]
# COST_GROUPS and RunListing are re-exported because workbench/ui imports them from here.


def _start_ticks(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' where /proc has none), so a
    pid reused by a later process is not taken for the run's owner."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return ""
    # Field 22; the command name (field 2) may hold spaces, so count after its ')'.
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


def process_owner(pid: int | None = None) -> str:
    """``host:pid:start`` of this process (or of ``pid``)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid)}"


def owner_alive(owner: str | None) -> bool | None:
    """Whether the process that owns a run still runs: None when it cannot be told (it
    is on another host); False for runs from before owners were stored."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname():
        return None
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    except (ValueError, OverflowError):
        return False
    return not start or _start_ticks(pid) in ("", start)


_swept: weakref.WeakSet[Vault] = weakref.WeakSet()


class RunStore(RunQueries, SpendingQueries):
    """Persistence for the engine. Cells arrive in batches; each batch is one transaction.

    The first store made over an open vault marks its orphaned runs (still "running",
    their process gone) as interrupted, with the cost and count of the cells they kept."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        if vault not in _swept:
            _swept.add(vault)
            self.mark_interrupted()

    def mark_interrupted(self) -> list[str]:
        """Close every run whose owning process is gone; returns their ids."""
        with self.vault.reading() as s:
            running = list(
                s.execute(select(RunRow.id, RunRow.owner).where(RunRow.status == "running"))
            )
        orphans = [rid for rid, owner in running if owner_alive(owner) is False]
        for rid in orphans:
            self.finish(uuid.UUID(rid), "interrupted", only_if_running=True)
        return orphans

    def start(self, run: Run) -> None:
        with self.vault.writing() as s:
            s.add(
                RunRow(
                    id=str(run.id),
                    prompt=run.spec.prompt,
                    spec=run.spec.model_dump_json(),
                    status=run.status,
                    started_at=run.started_at,
                    total_cells=run.spec.total_cells,
                    cost_usd=None,
                    owner=process_owner(),
                )
            )

    def add_cells(self, run_id: uuid.UUID, cells: Sequence[CellResult], cache: bool = True) -> None:
        """Append finished cells (and cache their answers) in one transaction."""
        if not cells:
            return
        with self.vault.writing() as s:
            s.execute(
                insert(CellRow),
                [
                    {
                        "run_id": str(run_id),
                        "version_id": str(c.key.version_id),
                        "profile": c.key.model.profile,
                        "model": c.key.model.model,
                        "case_index": c.key.case_index,
                        "repeat": c.key.repeat,
                        "finished_at": c.finished_at,
                        "cost_usd": c.cost_usd,
                        "error_kind": c.error_kind,
                        "request_hash": c.request_hash,
                        "data": c.model_dump_json(),
                        "kind": c.kind,
                    }
                    for c in cells
                ],
            )
            add_spending(s, run_id, cells)
            if cache:
                fresh = {
                    c.request_hash: c
                    for c in cells
                    if c.ok and not c.cached and c.request_hash and c.kind == "call"
                }
                if fresh:
                    existing = set(
                        s.scalars(
                            select(CacheRow.request_hash).where(CacheRow.request_hash.in_(fresh))
                        )
                    )
                    rows = [
                        {"request_hash": h, "created_at": utcnow(), "data": c.model_dump_json()}
                        for h, c in fresh.items()
                        if h not in existing
                    ]
                    if rows:
                        s.execute(insert(CacheRow), rows)

    def finish(self, run_id: uuid.UUID, status: RunStatus, only_if_running: bool = False) -> None:
        """Mark the run ended, with its cost and its summary rows (version x model), so
        readers such as review evidence never parse its cells again. An interrupted run
        ends when its last stored cell did. Its cost includes its grading calls; its
        summaries are the matrix's own calls."""
        with self.vault.reading() as s:
            cells = [
                CellResult.model_validate_json(d)
                for d in s.scalars(select(CellRow.data).where(CellRow.run_id == str(run_id)))
            ]
        rows = summarize(c for c in cells if c.kind == "call")
        # The stored cost is the priced sum (calls that reached a model); readers pair it
        # with the unpriced count from :meth:`totals` and never show it bare.
        cost = cost_total(cells).priced_usd
        ended = utcnow()
        if status == "interrupted" and cells:
            ended = max(c.finished_at for c in cells)
        with self.vault.writing() as s:
            where = [RunRow.id == str(run_id)]
            if only_if_running:
                where.append(RunRow.status == "running")
            done = s.execute(
                update(RunRow).where(*where).values(status=status, finished_at=ended, cost_usd=cost)
            )
            if not done.rowcount:  # type: ignore[attr-defined]
                return
            s.execute(delete(RunSummaryRow).where(RunSummaryRow.run_id == str(run_id)))
            if rows:
                s.execute(
                    insert(RunSummaryRow),
                    [
                        {
                            "run_id": str(run_id),
                            "version_id": str(r.version_id),
                            "profile": r.model.profile,
                            "model": r.model.model,
                            "data": r.model_dump_json(),
                        }
                        for r in rows
                    ],
                )

    def count_cells(self, run_id: uuid.UUID) -> int:
        """How many cells of the run the vault holds (the engine checks it at close)."""
        with self.vault.reading() as s:
            n = s.scalar(select(func.count()).where(CellRow.run_id == str(run_id), MATRIX))
        return int(n or 0)

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

    def cached(self, request_hash: str) -> CellResult | None:
        with self.vault.reading() as s:
            data = s.scalar(select(CacheRow.data).where(CacheRow.request_hash == request_hash))
        return None if data is None else CellResult.model_validate_json(data)

    def cached_many(self, hashes: Sequence[str]) -> dict[str, CellResult]:
        out: dict[str, CellResult] = {}
        unique = list(dict.fromkeys(hashes))
        with self.vault.reading() as s:
            for i in range(0, len(unique), 500):
                for h, data in s.execute(
                    select(CacheRow.request_hash, CacheRow.data).where(
                        CacheRow.request_hash.in_(unique[i : i + 500])
                    )
                ):
                    out[h] = CellResult.model_validate_json(data)
        return out
