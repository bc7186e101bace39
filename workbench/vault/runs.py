"""Runs and cells in the vault: the one run log of every model call, and the response cache."""

from __future__ import annotations

import os
import socket
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from workbench.core.errors import NotFoundError, UsageError
from workbench.core.models import utcnow
from workbench.core.money import CostTotal, cost_total
from workbench.core.runs import CellResult, Run, RunSpec, RunStatus, SummaryRow, summarize
from workbench.vault.repository import Vault
from workbench.vault.schema import CacheRow, CellRow, RunRow, RunSummaryRow, SpendRow, VersionRow


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


def _day(at: datetime) -> str:
    """The UTC day of ``at`` as the spending rollups key it (a naive time is UTC)."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.date().isoformat()


def _is_midnight(at: datetime) -> bool:
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return (at.hour, at.minute, at.second, at.microsecond) == (0, 0, 0, 0)


def _add_spending(s: Session, run_id: uuid.UUID, cells: Sequence[CellResult]) -> None:
    """Add ``cells`` to the daily spending rollups, in the transaction storing them."""
    prompt = s.scalar(select(RunRow.prompt).where(RunRow.id == str(run_id))) or ""
    sums: dict[tuple[str, str, str, str, str, str], list[float]] = {}
    for c in cells:
        if c.cached:
            continue  # a replay called no model: not spending
        key = (
            _day(c.finished_at), c.key.model.profile, c.key.model.model, prompt,
            str(c.key.version_id), c.kind,
        )  # fmt: skip
        row = sums.setdefault(key, [0, 0, 0, 0, 0.0, 0, 0])
        row[0] += 1
        row[1] += c.error_kind is not None
        row[2] += c.input_tokens or 0
        row[3] += c.output_tokens or 0
        if c.cost_usd is not None:
            row[4] += c.cost_usd
            row[5] += 1
        elif c.error_kind is None:
            row[6] += 1
    if not sums:
        return
    names = ("calls", "errors", "input_tokens", "output_tokens", "cost_usd", "priced", "unpriced")
    columns = ("day", "profile", "model", "prompt", "version_id", "kind")
    values = [
        {**dict(zip(columns, k, strict=True)), **dict(zip(names, v, strict=True))}
        for k, v in sums.items()
    ]
    stmt = sqlite_insert(SpendRow).values(values)
    s.execute(
        stmt.on_conflict_do_update(
            index_elements=["day", "profile", "model", "prompt", "version_id", "kind"],
            set_={n: getattr(SpendRow, n) + getattr(stmt.excluded, n) for n in names},
        )
    )


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


class RunStore:
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
            _add_spending(s, run_id, cells)
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
        """Cost of every call that reached a model since ``since`` (for period budgets),
        of one profile's calls with ``profile``; cached replays are not spending. From
        the daily rollups when ``since`` starts a UTC day (the budgets' periods do)."""
        query: Select[Any]
        if _is_midnight(since):
            query = select(func.sum(SpendRow.cost_usd)).where(SpendRow.day >= _day(since))
            if profile is not None:
                query = query.where(SpendRow.profile == profile)
        else:
            query = select(func.sum(CellRow.cost_usd)).where(
                CellRow.finished_at >= since, _CALLED_A_MODEL
            )
            if profile is not None:
                query = query.where(CellRow.profile == profile)
        with self.vault.reading() as s:
            total = s.scalar(query)
        return float(total or 0.0)

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
            query = query.where(SpendRow.day >= _day(since))
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
        with self.vault.reading() as s:
            n = s.scalar(select(func.count()).where(CellRow.run_id == str(run_id), _MATRIX))
        return int(n or 0)

    def priced_counts_since(self, since: datetime) -> tuple[int, int]:
        """(priced, unpriced) answered calls since ``since``; unpriced ones (cost unknown)
        are not in :meth:`spent_since`."""
        with self.vault.reading() as s:
            if _is_midnight(since):
                priced, unpriced = s.execute(
                    select(func.sum(SpendRow.priced), func.sum(SpendRow.unpriced)).where(
                        SpendRow.day >= _day(since)
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
