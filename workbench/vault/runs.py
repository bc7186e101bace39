"""Runs and cells in the vault: the one run log of every model call, and the response cache."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select

from workbench.core.errors import NotFoundError, UsageError
from workbench.core.money import CostTotal
from workbench.core.runs import CellResult, Run, RunSpec, RunStatus, SummaryRow
from workbench.vault.repository import Vault
from workbench.vault.run_log import is_midnight, utc_day
from workbench.vault.schema import CellRow, RunRow, RunSummaryRow, SpendRow, VersionRow


@dataclass(frozen=True)
class RunCounts:
    """A run's state and cell counts (``version_cells``: those of the version asked about)."""

    run_id: uuid.UUID
    started_at: datetime
    finished_at: datetime | None
    status: str
    total_cells: int
    stored_cells: int
    version_cells: int


# A cell answered from the response cache called no model: it is not spending.
_CALLED_A_MODEL = func.coalesce(func.json_extract(CellRow.data, "$.cached"), 0) == 0
# A cell of the matrix, not a rubric's grading call (those are log and spending only).
_MATRIX = CellRow.kind == "call"


COST_GROUPS = ("model", "profile", "prompt", "version", "author", "day", "week", "month")
"""What ``workbench costs --by`` sums spending by."""


@dataclass(frozen=True)
class CostGroup:
    """Spending of one model, prompt, version, day...: calls that reached a model
    (cached replays are not spending), their tokens and cost by the one money rule."""

    key: str
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost: CostTotal

    @property
    def cost_per_1k_calls(self) -> float | None:
        """USD per 1,000 answered calls; None when any is unpriced or none answered."""
        answered = self.cost.priced_calls + self.cost.unpriced_calls
        usd = self.cost.usd
        return None if usd is None or not answered else usd * 1000 / answered


@dataclass(frozen=True)
class LogEntry:
    """One model call of the run log: which run and prompt it belongs to, and the cell."""

    run_id: str
    prompt: str
    cell: CellResult


@dataclass(frozen=True)
class RunTotals:
    """What the vault holds of one run: its stored cells and what they cost, by the one
    money rule (:mod:`workbench.core.money`), so a list and a run's page agree."""

    stored_cells: int
    cost: CostTotal


@dataclass(frozen=True)
class RunListing:
    """One run as lists show it (the CLI's ``runs list``, the app's Runs page): what was
    planned, what the vault holds and its cost by the one money rule."""

    id: uuid.UUID
    prompt: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    planned_cells: int
    stored_cells: int
    cost: CostTotal

    @property
    def cells_text(self) -> str:
        """``12``, or ``9 of 12`` when the vault holds fewer cells than were planned."""
        n, planned = self.stored_cells, self.planned_cells
        return str(n) if n == planned else f"{n} of {planned}"


def _weeks(days: list[CostGroup]) -> list[CostGroup]:
    """Day groups summed into ISO-8601 weeks (``2026-W49``, Monday first)."""
    from datetime import date

    weeks: dict[str, list[CostGroup]] = {}
    for g in days:
        year, week, _ = date.fromisoformat(g.key).isocalendar()
        weeks.setdefault(f"{year}-W{week:02d}", []).append(g)
    return [
        CostGroup(
            key,
            sum(g.calls for g in gs),
            sum(g.errors for g in gs),
            sum(g.input_tokens for g in gs),
            sum(g.output_tokens for g in gs),
            CostTotal(
                sum(g.cost.priced_usd for g in gs),
                sum(g.cost.priced_calls for g in gs),
                sum(g.cost.unpriced_calls for g in gs),
            ),
        )
        for key, gs in weeks.items()
    ]


class RunStore:
    """The run log as the app and the CLI read it (runs, cells, costs, the log), and
    its writes: those the engine makes are :class:`~workbench.vault.run_log.RunLog`'s
    (one implementation, in plain SQL), reached through :attr:`log`. The first store or
    log made over an open vault marks its orphaned runs as interrupted."""

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

    def summary_rows(self, run_id: uuid.UUID, version_id: uuid.UUID) -> list[SummaryRow] | None:
        """The stored summary rows of one version in one run; None when the run has none
        stored (it ended before summaries were kept, or has not ended)."""
        with self.vault.reading() as s:
            rows = list(
                s.execute(
                    select(RunSummaryRow.version_id, RunSummaryRow.data).where(
                        RunSummaryRow.run_id == str(run_id)
                    )
                )
            )
        if not rows:
            return None
        return [SummaryRow.model_validate_json(d) for vid, d in rows if vid == str(version_id)]

    def cached(self, request_hash: str) -> CellResult | None:
        return self.writes.cached(request_hash)

    def cached_many(self, hashes: Sequence[str]) -> dict[str, CellResult]:
        return self.writes.cached_many(hashes)

    def load_spec(self, run_id: str) -> RunSpec | None:
        """A run's spec alone (its cases name the log's calls), without its cells."""
        with self.vault.reading() as s:
            spec = s.scalar(select(RunRow.spec).where(RunRow.id == run_id))
        return None if spec is None else RunSpec.model_validate_json(spec)

    def load(self, run_id: uuid.UUID) -> Run:
        with self.vault.reading() as s:
            row = s.get(RunRow, str(run_id))
            if row is None:
                raise NotFoundError(
                    f"no run {run_id} in this vault", hint="List runs with: workbench runs"
                )
            cells = [
                CellResult.model_validate_json(d)
                for d in s.scalars(
                    select(CellRow.data)
                    .where(CellRow.run_id == str(run_id), _MATRIX)
                    .order_by(CellRow.seq)
                )
            ]
            return Run(
                id=uuid.UUID(row.id),
                spec=RunSpec.model_validate_json(row.spec),
                status=row.status,
                started_at=row.started_at,
                finished_at=row.finished_at,
                cells=tuple(cells),
            )

    def find(self, prefix: str) -> Run:
        """The run whose id starts with ``prefix`` (as printed by ``runs list``)."""
        cleaned = prefix.strip().lower()
        if not cleaned or not all(ch in "0123456789abcdef-" for ch in cleaned):
            raise UsageError(
                f"{prefix!r} is not a run id", hint="See ids with: workbench runs list"
            )
        with self.vault.reading() as s:
            ids = list(s.scalars(select(RunRow.id).where(RunRow.id.startswith(cleaned)).limit(2)))
        if len(ids) != 1:
            raise (NotFoundError if not ids else UsageError)(
                f"{prefix!r} matches {'no run' if not ids else 'several runs'}",
                hint="See ids with: workbench runs list (give more characters)",
            )
        return self.load(uuid.UUID(ids[0]))

    def runs_with_version(
        self, prompt: str, version_id: uuid.UUID, limit: int = 50
    ) -> list[RunCounts]:
        """The prompt's latest ``limit`` runs that hold cells of ``version_id``, newest
        first, with how many cells each was meant to have and holds: counts from the
        index, no cell parsed."""
        vid = str(version_id)
        stored = (
            select(func.count())
            .select_from(CellRow)
            .where(CellRow.run_id == RunRow.id, _MATRIX)
            .scalar_subquery()
        )
        mine = (
            select(func.count())
            .select_from(CellRow)
            .where(CellRow.run_id == RunRow.id, CellRow.version_id == vid, _MATRIX)
            .scalar_subquery()
        )
        with self.vault.reading() as s:
            rows = s.execute(
                select(
                    RunRow.id, RunRow.started_at, RunRow.finished_at, RunRow.status,
                    RunRow.total_cells, stored, mine,
                )
                .where(RunRow.prompt == prompt)
                .order_by(RunRow.started_at.desc())
                .limit(limit)
            ).all()  # fmt: skip
        return [
            RunCounts(uuid.UUID(r[0]), r[1], r[2], r[3], int(r[4]), int(r[5]), int(r[6]))
            for r in rows
            if r[6]
        ]

    def version_cells(self, run_id: uuid.UUID, version_id: uuid.UUID) -> list[CellResult]:
        """The cells of one version in one run (what its evidence summarises)."""
        with self.vault.reading() as s:
            return [
                CellResult.model_validate_json(d)
                for d in s.scalars(
                    select(CellRow.data)
                    .where(
                        CellRow.run_id == str(run_id),
                        CellRow.version_id == str(version_id),
                        _MATRIX,
                    )
                    .order_by(CellRow.seq)
                )
            ]

    def grader_cells(self, run_id: uuid.UUID) -> list[CellResult]:
        """The run's grading calls (rubric assertions), in the order they finished."""
        with self.vault.reading() as s:
            return [
                CellResult.model_validate_json(d)
                for d in s.scalars(
                    select(CellRow.data)
                    .where(CellRow.run_id == str(run_id), CellRow.kind == "grader")
                    .order_by(CellRow.seq)
                )
            ]

    def list_runs(self, prompt: str | None = None, limit: int = 50) -> list[RunListing]:
        """The newest runs first, with their stored cells and cost (two queries)."""
        with self.vault.reading() as s:
            q = select(RunRow).order_by(RunRow.started_at.desc()).limit(limit)
            if prompt:
                q = q.where(RunRow.prompt == prompt)
            rows = [
                (r.id, r.prompt, r.status, r.started_at, r.finished_at, r.total_cells)
                for r in s.scalars(q)
            ]
        totals = self.totals([r[0] for r in rows])
        return [
            RunListing(
                uuid.UUID(rid),
                name,
                status,
                started,
                finished,
                planned,
                totals[rid].stored_cells,
                totals[rid].cost,
            )
            for rid, name, status, started, finished, planned in rows
        ]

    def totals(self, run_ids: Sequence[str]) -> dict[str, RunTotals]:
        """Stored cells and cost of each run, in one query (for ``runs list``): the cells
        of its matrix; the cost of every call it made, its grading calls too."""
        if not run_ids:
            return {}
        with self.vault.reading() as s:
            rows = s.execute(
                select(
                    CellRow.run_id,
                    func.count().filter(_MATRIX),
                    func.coalesce(func.sum(CellRow.cost_usd).filter(_CALLED_A_MODEL), 0.0),
                    func.count(CellRow.cost_usd).filter(_CALLED_A_MODEL),
                    func.count().filter(
                        CellRow.cost_usd.is_(None), CellRow.error_kind.is_(None), _CALLED_A_MODEL
                    ),
                )
                .where(CellRow.run_id.in_(list(run_ids)))
                .group_by(CellRow.run_id)
            ).all()
        found = {
            rid: RunTotals(int(n), CostTotal(float(usd or 0.0), int(priced), int(unpriced)))
            for rid, n, usd, priced, unpriced in rows
        }
        return {rid: found.get(rid, RunTotals(0, CostTotal())) for rid in run_ids}

    def spent_since(self, since: datetime, profile: str | None = None) -> float:
        """Cost of every call that reached a model since ``since`` (see
        :meth:`RunLog.spent_since`)."""
        return self.writes.spent_since(since, profile)

    def costs_by(self, by: str, since: datetime | None = None) -> list[CostGroup]:
        """Spending grouped ``by`` one of :data:`COST_GROUPS`, most expensive first (then
        by key); only calls that reached a model. Read from the daily spending rollups
        (one SQL query over a few rows per day and model, whatever the log's size);
        ``since`` counts whole UTC days from its date."""
        if by not in COST_GROUPS:
            raise UsageError(
                f"cannot group costs by {by!r}", hint=f"Use one of: {', '.join(COST_GROUPS)}."
            )
        keys: dict[str, ColumnElement[str]] = {
            "model": SpendRow.profile + ":" + SpendRow.model,
            "profile": SpendRow.profile.expression,
            "prompt": SpendRow.prompt.expression,
            "version": SpendRow.version_id.expression,
            # The version's author: who wrote the prompt the money was spent on.
            "author": func.coalesce(VersionRow.author, "(unknown version)"),
            "day": SpendRow.day.expression,
            # ISO-8601 weeks are summed from days below (this SQLite has no %G/%V).
            "week": SpendRow.day.expression,
            "month": func.substr(SpendRow.day, 1, 7),
        }
        key = keys[by].label("key")
        query = select(
            key,
            func.sum(SpendRow.calls),
            func.sum(SpendRow.errors),
            func.sum(SpendRow.input_tokens),
            func.sum(SpendRow.output_tokens),
            func.sum(SpendRow.cost_usd),
            func.sum(SpendRow.priced),
            func.sum(SpendRow.unpriced),
        ).group_by(key)
        if by == "author":
            query = query.outerjoin(VersionRow, VersionRow.id == SpendRow.version_id)
        if since is not None:
            query = query.where(SpendRow.day >= utc_day(since))
        with self.vault.reading() as s:
            rows = s.execute(query).all()
        groups = [
            CostGroup(
                str(k),
                int(n),
                int(errors),
                int(tin or 0),
                int(tout or 0),
                CostTotal(float(usd or 0.0), int(priced), int(unpriced)),
            )
            for k, n, errors, tin, tout, usd, priced, unpriced in rows
        ]
        if by == "week":
            groups = _weeks(groups)
        return sorted(groups, key=lambda g: (-g.cost.priced_usd, g.key))

    def log(
        self,
        *,
        prompt: str | None = None,
        model: str | None = None,
        since: datetime | None = None,
        errors_only: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[LogEntry]:
        """The run log, newest call first: every model call the workbench made (and each
        cached replay, marked so), rubric grading calls too (``cell.kind == "grader"``).
        ``model`` matches ``profile:model`` or the model name.
        Only the page asked for is read and parsed."""
        query = select(CellRow.run_id, RunRow.prompt, CellRow.data).join(
            RunRow, RunRow.id == CellRow.run_id
        )
        if prompt is not None:
            query = query.where(RunRow.prompt == prompt)
        if model is not None:
            if ":" in model:
                profile, _, name = model.partition(":")
                query = query.where(CellRow.profile == profile, CellRow.model == name)
            else:
                query = query.where(CellRow.model == model)
        if since is not None:
            query = query.where(CellRow.finished_at >= since)
        if errors_only:
            query = query.where(CellRow.error_kind.is_not(None))
        query = query.order_by(CellRow.finished_at.desc(), CellRow.seq.desc())
        with self.vault.reading() as s:
            rows = s.execute(query.limit(limit).offset(offset)).all()
        return [LogEntry(r, p, CellResult.model_validate_json(d)) for r, p, d in rows]

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

    def count_cells(self, run_id: uuid.UUID) -> int:
        """How many cells of the run the vault holds (the engine checks it at close)."""
        return self.writes.count_cells(run_id)

    def priced_counts_since(self, since: datetime) -> tuple[int, int]:
        """(priced, unpriced) answered calls since ``since``; unpriced ones (cost unknown)
        are not in :meth:`spent_since`."""
        with self.vault.reading() as s:
            if is_midnight(since):
                priced, unpriced = s.execute(
                    select(func.sum(SpendRow.priced), func.sum(SpendRow.unpriced)).where(
                        SpendRow.day >= utc_day(since)
                    )
                ).one()
            else:
                priced, unpriced = s.execute(
                    select(
                        func.count(CellRow.cost_usd),
                        func.count().filter(CellRow.cost_usd.is_(None)),
                    ).where(
                        CellRow.finished_at >= since, CellRow.error_kind.is_(None), _CALLED_A_MODEL
                    )
                ).one()
        return int(priced or 0), int(unpriced or 0)
