"""Money: the pre-flight estimate and the hard caps, for the CLI and the app alike.

Before any run: the estimate (tokens x prices, assuming nothing is cached) must fit
the run's cap and what is left of today's and this month's budgets. During the run
the engine stops starting calls once the run's cap is spent. Spending is the sum of
every call's cost in the vault's run log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from workbench.core.errors import InputError, UsageError
from workbench.core.runs import RunSpec
from workbench.engine.runner import Engine, Estimate
from workbench.settings import Budgets
from workbench.vault.runs import RunStore


@dataclass(frozen=True)
class Spending:
    today_usd: float
    month_usd: float
    total_usd: float


def period_starts(now: datetime | None = None) -> tuple[datetime, datetime]:
    now = now or datetime.now(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day.replace(day=1)


def spending(store: RunStore) -> Spending:
    day, month = period_starts()
    return Spending(
        today_usd=store.spent_since(day),
        month_usd=store.spent_since(month),
        total_usd=store.spent_since(datetime(1970, 1, 1, tzinfo=UTC)),
    )


def _usd(value: float | None) -> str:
    return "an unknown amount" if value is None else f"${value:.4f}"


def preflight(engine: Engine, spec: RunSpec, budgets: Budgets) -> tuple[RunSpec, Estimate]:
    """The spec with the run's cap applied, and its estimate; raises if it cannot run."""
    if spec.max_cost_usd is None and budgets.per_run_usd is not None:
        spec = spec.model_copy(update={"max_cost_usd": budgets.per_run_usd})
    estimate = engine.estimate(spec)
    # Refused only when no call at all renders (counted per call: several calls can
    # fail for one reason, and the reasons are kept distinct).
    if estimate.render_errors and estimate.unrenderable_calls >= estimate.calls:
        raise InputError(
            f"no test case renders: {estimate.render_errors[0]}",
            hint="Give the variables values (--var NAME=VALUE, --cases FILE, or the "
            "Test cases tab).",
        )
    cap = spec.max_cost_usd
    if cap is not None and estimate.cost_usd is not None and estimate.cost_usd > cap:
        raise UsageError(
            f"this run may cost up to {_usd(estimate.cost_usd)}, over its cap of ${cap:.4f}",
            hint="Raise the cap (--max-cost or the per-run budget), or run fewer calls.",
        )
    day, month = period_starts()
    store = RunStore(engine.vault)
    for label, limit, since in (
        ("today", budgets.per_day_usd, day),
        ("this month", budgets.per_month_usd, month),
    ):
        if limit is None:
            continue
        spent = store.spent_since(since)
        cost = estimate.cost_usd
        if spent >= limit or (cost is not None and spent + cost > limit):
            raise UsageError(
                f"the budget for {label} is ${limit:.2f}: ${spent:.4f} is spent and this run "
                f"may cost {_usd(cost)}",
                hint="Raise the budget in the settings, or run fewer calls.",
            )
    return spec, estimate
