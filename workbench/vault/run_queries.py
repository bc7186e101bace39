"""Reading runs back from the vault: one run, its cells and summaries, the lists and the
run log, counted from the index where a page needs no cell parsed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from workbench.core.errors import NotFoundError, UsageError
from workbench.core.money import CostTotal
from workbench.core.runs import CellResult, Run, RunSpec, SummaryRow
from workbench.vault.repository import Vault
from workbench.vault.schema import CellRow, RunRow, RunSummaryRow
from workbench.vault.spending import CALLED_A_MODEL

# A cell of the matrix, not a rubric's grading call (those are log and spending only).
MATRIX = CellRow.kind == "call"


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


class RunQueries:
    """The reading half of :class:`workbench.vault.runs.RunStore`."""

    vault: Vault

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
                    .where(CellRow.run_id == str(run_id), MATRIX)
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
            .where(CellRow.run_id == RunRow.id, MATRIX)
            .scalar_subquery()
        )
        mine = (
            select(func.count())
            .select_from(CellRow)
            .where(CellRow.run_id == RunRow.id, CellRow.version_id == vid, MATRIX)
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
                        MATRIX,
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
                    func.count().filter(MATRIX),
                    func.coalesce(func.sum(CellRow.cost_usd).filter(CALLED_A_MODEL), 0.0),
                    func.count(CellRow.cost_usd).filter(CALLED_A_MODEL),
                    func.count().filter(
                        CellRow.cost_usd.is_(None), CellRow.error_kind.is_(None), CALLED_A_MODEL
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
