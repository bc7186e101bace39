"""Spending in the vault: the queries budgets and ``workbench costs`` read from the daily
rollups each stored batch of cells adds to (that write is ``vault.run_log``'s; cached
replays are not spending)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select

from workbench.core.errors import UsageError
from workbench.core.money import CostTotal
from workbench.vault.repository import Vault
from workbench.vault.run_log import is_midnight, utc_day
from workbench.vault.schema import CellRow, SpendRow, VersionRow

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
        of one profile's calls with ``profile``: :meth:`RunLog.spent_since`, which the
        engine's budgets read too."""
        return self.vault.run_log().spent_since(since, profile)

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
                        CellRow.finished_at >= since, CellRow.error_kind.is_(None), CALLED_A_MODEL
                    )
                ).one()
        return int(priced or 0), int(unpriced or 0)
