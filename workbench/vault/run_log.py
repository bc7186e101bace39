"""The run log's write path, in plain SQL over the standard library's ``sqlite3``: a
run started, its cells appended (with the day's spending rollups and the answer
cache, in the batch's transaction), answers replayed from the cache, the run closed
with its summaries, and the runs of dead processes swept.

It is the one implementation of these writes. :class:`~workbench.vault.runs.RunStore`
(the ORM side, which also reads and lists runs) calls it on its session's connection;
:class:`~workbench.vault.direct.DirectVault` calls it on its own, so ``workbench
compare`` and the engine child never import SQLAlchemy (0.44 s of a one-call compare's
1.2 s on these machines; ``bench/matrix.py``). The tables are the ORM's
(``vault.schema``); ``tests/unit/test_vault_direct.py`` checks both sides write and
read the same rows.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import uuid
import weakref
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

from workbench.core.models import utcnow
from workbench.core.money import cost_total
from workbench.core.runs import CellResult, Run, RunStatus, summarize


class Connections(Protocol):
    """Where the run log gets its transactions: a read, and a ``BEGIN IMMEDIATE`` write
    that commits when the block ends (rolls back on an error)."""

    def raw_reading(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def raw_writing(self) -> AbstractContextManager[sqlite3.Connection]: ...


def db_time(at: datetime) -> str:
    """``at`` as the vault stores times: naive UTC with microseconds (SQLAlchemy's
    SQLite ``DATETIME`` text, which the ORM side reads back)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime given to the vault; use an aware UTC datetime")
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def from_db_time(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def utc_day(at: datetime) -> str:
    """The UTC day of ``at`` as the spending rollups key it (a naive time is UTC)."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.date().isoformat()


def is_midnight(at: datetime) -> bool:
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return (at.hour, at.minute, at.second, at.microsecond) == (0, 0, 0, 0)


# ---- run owners ----------------------------------------------------------------------


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


# ---- statements ----------------------------------------------------------------------
# Built from the constants below and "?" placeholders only; every value is a parameter
# (hence the S608 exemptions).

# A cell that called a model (a cached replay did not): what spending counts.
CALLED_A_MODEL = "coalesce(json_extract(data, '$.cached'), 0) = 0"
_UPSERT_SPENDING = """
INSERT INTO spending (day, profile, model, prompt, version_id, kind,
                      calls, errors, input_tokens, output_tokens, cost_usd, priced, unpriced)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (day, profile, model, prompt, version_id, kind) DO UPDATE SET
    calls = spending.calls + excluded.calls,
    errors = spending.errors + excluded.errors,
    input_tokens = spending.input_tokens + excluded.input_tokens,
    output_tokens = spending.output_tokens + excluded.output_tokens,
    cost_usd = spending.cost_usd + excluded.cost_usd,
    priced = spending.priced + excluded.priced,
    unpriced = spending.unpriced + excluded.unpriced
"""
_INSERT_CELL = (
    "INSERT INTO cells (run_id, version_id, profile, model, case_index, repeat, "
    "finished_at, cost_usd, error_kind, request_hash, data, kind) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_PARAMS = 500
"""SQLite caps a statement's parameters: ``IN`` lists go in slices this long."""


def _slices(items: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(items), _PARAMS):
        yield items[i : i + _PARAMS]


def _cell_params(run_id: str, c: CellResult) -> tuple[Any, ...]:
    return (
        run_id, str(c.key.version_id), c.key.model.profile, c.key.model.model,
        c.key.case_index, c.key.repeat, db_time(c.finished_at), c.cost_usd,
        c.error_kind, c.request_hash, c.model_dump_json(), c.kind,
    )  # fmt: skip


def _add_spending(conn: sqlite3.Connection, run_id: str, cells: Sequence[CellResult]) -> None:
    """Add ``cells`` to the daily spending rollups, in the transaction storing them."""
    found = conn.execute("SELECT prompt FROM runs WHERE id = ?", (run_id,)).fetchone()
    prompt = found[0] if found else ""
    sums: dict[tuple[str, ...], list[float]] = {}
    for c in cells:
        if c.cached:
            continue  # a replay called no model: not spending
        key = (
            utc_day(c.finished_at), c.key.model.profile, c.key.model.model, prompt,
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
    conn.executemany(_UPSERT_SPENDING, [(*k, *v) for k, v in sums.items()])


def _cache_answers(conn: sqlite3.Connection, cells: Sequence[CellResult]) -> None:
    fresh = {
        c.request_hash: c
        for c in cells
        if c.ok and not c.cached and c.request_hash and c.kind == "call"
    }
    if not fresh:
        return
    existing: set[str] = set()
    for part in _slices(list(fresh)):
        marks = ", ".join("?" * len(part))
        existing.update(
            h
            for (h,) in conn.execute(
                f"SELECT request_hash FROM response_cache WHERE request_hash IN ({marks})",  # noqa: S608
                part,
            )
        )
    now = db_time(utcnow())
    conn.executemany(
        "INSERT INTO response_cache (request_hash, created_at, data) VALUES (?, ?, ?)",
        [(h, now, c.model_dump_json()) for h, c in fresh.items() if h not in existing],
    )


class RunLog:
    """The engine's side of the run log over :class:`Connections`: each method one
    transaction. The first log made over a vault marks its orphaned runs (still
    "running", their process gone) as interrupted, with the cost and count of the
    cells they kept."""

    def __init__(self, db: Connections) -> None:
        self.db = db
        if db not in _swept:
            _swept.add(db)
            self.mark_interrupted()

    def mark_interrupted(self) -> list[str]:
        """Close every run whose owning process is gone; returns their ids."""
        with self.db.raw_reading() as conn:
            running = conn.execute("SELECT id, owner FROM runs WHERE status = 'running'").fetchall()
        orphans = [rid for rid, owner in running if owner_alive(owner) is False]
        for rid in orphans:
            self.finish(uuid.UUID(rid), "interrupted", only_if_running=True)
        return orphans

    def start(self, run: Run) -> None:
        with self.db.raw_writing() as conn:
            conn.execute(
                "INSERT INTO runs (id, prompt, spec, status, started_at, finished_at, "
                "total_cells, cost_usd, owner) VALUES (?, ?, ?, ?, ?, NULL, ?, NULL, ?)",
                (
                    str(run.id), run.spec.prompt, run.spec.model_dump_json(), run.status,
                    db_time(run.started_at), run.spec.total_cells, process_owner(),
                ),
            )  # fmt: skip

    def add_cells(self, run_id: uuid.UUID, cells: Sequence[CellResult], cache: bool = True) -> None:
        """Append finished cells (and cache their answers) in one transaction."""
        if not cells:
            return
        rid = str(run_id)
        with self.db.raw_writing() as conn:
            conn.executemany(_INSERT_CELL, [_cell_params(rid, c) for c in cells])
            _add_spending(conn, rid, cells)
            if cache:
                _cache_answers(conn, cells)

    def finish(self, run_id: uuid.UUID, status: RunStatus, only_if_running: bool = False) -> None:
        """Mark the run ended, with its cost and its summary rows (version x model), so
        readers such as review evidence never parse its cells again. An interrupted run
        ends when its last stored cell did. Its cost includes its grading calls; its
        summaries are the matrix's own calls."""
        rid = str(run_id)
        with self.db.raw_reading() as conn:
            cells = [
                CellResult.model_validate_json(d)
                for (d,) in conn.execute("SELECT data FROM cells WHERE run_id = ?", (rid,))
            ]
        rows = summarize(c for c in cells if c.kind == "call")
        # The stored cost is the priced sum (calls that reached a model); readers pair it
        # with the unpriced count and never show it bare.
        cost = cost_total(cells).priced_usd
        ended = utcnow()
        if status == "interrupted" and cells:
            ended = max(c.finished_at for c in cells)
        query = "UPDATE runs SET status = ?, finished_at = ?, cost_usd = ? WHERE id = ?"
        if only_if_running:
            query += " AND status = 'running'"
        with self.db.raw_writing() as conn:
            if not conn.execute(query, (status, db_time(ended), cost, rid)).rowcount:
                return
            conn.execute("DELETE FROM run_summaries WHERE run_id = ?", (rid,))
            conn.executemany(
                "INSERT INTO run_summaries (run_id, version_id, profile, model, data) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (rid, str(r.version_id), r.model.profile, r.model.model, r.model_dump_json())
                    for r in rows
                ],
            )

    def cached(self, request_hash: str) -> CellResult | None:
        return self.cached_many([request_hash]).get(request_hash)

    def cached_many(self, hashes: Sequence[str]) -> dict[str, CellResult]:
        out: dict[str, CellResult] = {}
        with self.db.raw_reading() as conn:
            for part in _slices(list(dict.fromkeys(hashes))):
                marks = ", ".join("?" * len(part))
                for h, data in conn.execute(
                    "SELECT request_hash, data FROM response_cache "  # noqa: S608
                    f"WHERE request_hash IN ({marks})",
                    part,
                ):
                    out[h] = CellResult.model_validate_json(data)
        return out

    def count_cells(self, run_id: uuid.UUID) -> int:
        """How many cells of the run the vault holds (the engine checks it at close)."""
        with self.db.raw_reading() as conn:
            (n,) = conn.execute(
                "SELECT count(*) FROM cells WHERE run_id = ? AND kind = 'call'", (str(run_id),)
            ).fetchone()
        return int(n or 0)

    def spent_since(self, since: datetime, profile: str | None = None) -> float:
        """Cost of every call that reached a model since ``since`` (for period budgets),
        of one profile's calls with ``profile``; cached replays are not spending. From
        the daily rollups when ``since`` starts a UTC day (the budgets' periods do)."""
        args: list[Any]
        if is_midnight(since):
            query, args = "SELECT sum(cost_usd) FROM spending WHERE day >= ?", [utc_day(since)]
        else:
            query = f"SELECT sum(cost_usd) FROM cells WHERE finished_at >= ? AND {CALLED_A_MODEL}"  # noqa: S608
            args = [db_time(since)]
        if profile is not None:
            query += " AND profile = ?"
            args.append(profile)
        with self.db.raw_reading() as conn:
            (total,) = conn.execute(query, args).fetchone()
        return float(total or 0.0)


_swept: weakref.WeakSet[Any] = weakref.WeakSet()
