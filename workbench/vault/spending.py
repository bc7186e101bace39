"""Spending in the vault: the daily rollups each stored batch of cells adds to, and the
queries budgets and ``workbench costs`` read from them (cached replays are not spending)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from workbench.core.errors import UsageError
from workbench.core.money import CostTotal
from workbench.core.runs import CellResult
from workbench.vault.repository import Vault
from workbench.vault.schema import CellRow, RunRow, SpendRow, VersionRow

# A cell answered from the response cache called no model: it is not spending.
CALLED_A_MODEL = func.coalesce(func.json_extract(CellRow.data, "$.cached"), 0) == 0


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


def _day(at: datetime) -> str:
    """The UTC day of ``at`` as the spending rollups key it (a naive time is UTC)."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.date().isoformat()


def _is_midnight(at: datetime) -> bool:
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return (at.hour, at.minute, at.second, at.microsecond) == (0, 0, 0, 0)


def add_spending(s: Session, run_id: uuid.UUID, cells: Sequence[CellResult]) -> None:
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


class SpendingQueries:
    """The spending half of :class:`workbench.vault.runs.RunStore`: what was spent, read
    from the daily rollups (or from the cells when a period does not start a UTC day)."""

    vault: Vault

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
                CellRow.finished_at >= since, CALLED_A_MODEL
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
                        CellRow.finished_at >= since, CellRow.error_kind.is_(None), CALLED_A_MODEL
                    )
                ).one()
        return int(priced or 0), int(unpriced or 0)
