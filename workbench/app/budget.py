"""Money: the pre-flight estimate and the hard caps, for the CLI and the app alike.

Before any run: the estimate (tokens x prices, assuming nothing is cached) must fit
the run's cap and what is left of today's and this month's budgets. During the run
the engine stops starting calls once the run's cap is spent. Spending is the sum of
every call's cost in the vault's run log.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from workbench.core.errors import InputError, UsageError
from workbench.core.money import format_usd
from workbench.core.runs import RunSpec, SpendCap
from workbench.engine.runner import Engine, Estimate, rubric_graders
from workbench.settings import Budgets


class SpendLog(Protocol):
    """Where spending is read: the engine's run log, or the ORM's ``RunStore``."""

    def spent_since(self, since: datetime, profile: str | None = None) -> float: ...


@dataclass(frozen=True)
class Spending:
    today_usd: float
    month_usd: float
    total_usd: float


def period_starts(now: datetime | None = None) -> tuple[datetime, datetime]:
    now = now or datetime.now(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day.replace(day=1)


def spending(store: SpendLog) -> Spending:
    day, month = period_starts()
    return Spending(
        today_usd=store.spent_since(day),
        month_usd=store.spent_since(month),
        total_usd=store.spent_since(datetime(1970, 1, 1, tzinfo=UTC)),
    )


def cap_text(usd: float) -> str:
    """A cap as set: cents for a dollar or more, else four places ($0.0500)."""
    return f"${usd:.2f}" if usd >= 1 else f"${usd:.4f}"


def _usd(value: float | None) -> str:
    return "an unknown amount" if value is None else format_usd(value)


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
    caps = []
    called = {m.profile for m in spec.models} | {r.profile for r in rubric_graders(spec)}
    for state in budget_states(engine.store, budgets, called):
        cost = (
            estimate.cost_usd
            if state.profile is None
            else estimate.cost_by_profile.get(state.profile, 0.0)
        )
        if state.spent_usd >= state.limit_usd or (
            cost is not None and state.spent_usd + cost > state.limit_usd
        ):
            raise UsageError(
                f"{state.label} is {cap_text(state.limit_usd)}: "
                f"{format_usd(state.spent_usd)} is spent "
                f"and this run may cost {_usd(cost)}",
                hint="Raise the budget (workbench budget set, or Settings → General), or run "
                "fewer calls.",
            )
        caps.append(
            SpendCap(
                label=f"{state.label} ({cap_text(state.limit_usd)})",
                remaining_usd=state.limit_usd - state.spent_usd,
                profile=state.profile,
            )
        )
    near = tuple(warnings(engine.store, budgets, estimate.cost_usd))
    planned = spec.model_copy(update={"spend_caps": tuple(caps)})
    return planned, dataclasses.replace(estimate, warnings=near)


@dataclass(frozen=True)
class BudgetState:
    """One day or month cap, of all profiles or of one, and what is spent under it."""

    label: str
    period: str
    limit_usd: float
    spent_usd: float
    profile: str | None = None

    @property
    def share(self) -> float:
        return self.spent_usd / self.limit_usd if self.limit_usd else 1.0


def budget_states(
    store: SpendLog, budgets: Budgets, profiles: set[str] | None = None
) -> list[BudgetState]:
    """Every day and month cap in force (the per-profile ones for ``profiles``, or all
    configured), with what is spent under it now."""
    day, month = period_starts()
    out = []
    scopes: list[tuple[str | None, float | None, float | None]] = [
        (None, budgets.per_day_usd, budgets.per_month_usd)
    ]
    for name, own in sorted(budgets.per_provider.items()):
        if profiles is None or name in profiles:
            scopes.append((name, own.per_day_usd, own.per_month_usd))
    for profile, per_day, per_month in scopes:
        whose = f" of {profile}" if profile else ""
        for period, limit, since in (("day", per_day, day), ("month", per_month, month)):
            if limit is None:
                continue
            label = f"the {'daily' if period == 'day' else 'monthly'} budget{whose}"
            out.append(
                BudgetState(label, period, limit, store.spent_since(since, profile), profile)
            )
    return out


def warnings(store: SpendLog, budgets: Budgets, estimate_usd: float | None) -> list[str]:
    """Caps this run would bring to ``warn_at`` of their limit or more."""
    out = []
    for cap in budget_states(store, budgets):
        after = cap.spent_usd + (estimate_usd or 0.0)
        if after >= budgets.warn_at * cap.limit_usd:
            out.append(
                f"{cap.label}: {format_usd(cap.spent_usd)} of {cap_text(cap.limit_usd)} spent "
                f"({cap.share:.0%}); this run may bring it to {after / cap.limit_usd:.0%}"
            )
    return out
