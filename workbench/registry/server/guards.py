"""Judging a canary against its guard rails, from rollup figures alone.

Pure: given the guards and the summed figures of the canary and of the stable
version (same prompt, same label, the hours since the canary started: from the start
of that hour, as rollups are hourly, so that hour's earlier calls count too), say which
limit is crossed, with the figures as evidence, or None. Nothing is judged before
the canary has ``min_calls`` calls; a relative limit also waits for the stable
version to have ``min_calls`` (a ratio against a handful of calls would be noise).
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.registry.schemas import CanaryGuards
from workbench.registry.server.rollups import Figures


@dataclass(frozen=True)
class Verdict:
    reason: str
    evidence: dict[str, float | int | None]


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def evidence(canary: Figures, stable: Figures) -> dict[str, float | int | None]:
    def r(x: float | None, nd: int = 4) -> float | None:
        return None if x is None else round(x, nd)

    return {
        "canary_calls": canary.calls,
        "canary_errors": canary.errors,
        "canary_error_rate": r(canary.error_rate),
        "canary_p95_ms": r(canary.p(0.95), 1),
        "canary_cost_per_call_usd": r(canary.cost_per_call, 6),
        "stable_calls": stable.calls,
        "stable_errors": stable.errors,
        "stable_error_rate": r(stable.error_rate),
        "stable_p95_ms": r(stable.p(0.95), 1),
        "stable_cost_per_call_usd": r(stable.cost_per_call, 6),
    }


def judge(guards: CanaryGuards, canary: Figures, stable: Figures) -> Verdict | None:
    """The first crossed limit (errors, then latency, then cost), or None."""
    if canary.calls < guards.min_calls:
        return None
    stable_judged = stable.calls >= guards.min_calls
    problems: list[str] = []
    rate = canary.error_rate or 0.0
    stable_rate = stable.error_rate or 0.0
    if guards.max_error_rate is not None and rate > guards.max_error_rate:
        problems.append(
            f"error rate {_pct(rate)} over the limit {_pct(guards.max_error_rate)} "
            f"({canary.errors} of {canary.calls} calls)"
        )
    if (
        guards.max_error_rate_over_stable is not None
        and stable_judged
        and rate - stable_rate > guards.max_error_rate_over_stable
    ):
        problems.append(
            f"error rate {_pct(rate)} vs stable {_pct(stable_rate)}: more than "
            f"{_pct(guards.max_error_rate_over_stable)} over it"
        )
    p95 = canary.p(0.95)
    stable_p95 = stable.p(0.95)
    if guards.max_p95_ms is not None and p95 is not None and p95 > guards.max_p95_ms:
        problems.append(f"p95 latency {p95:.0f} ms over the limit {guards.max_p95_ms:.0f} ms")
    if (
        guards.max_p95_ratio is not None
        and stable_judged
        and p95 is not None
        and stable_p95
        and p95 > guards.max_p95_ratio * stable_p95
    ):
        problems.append(
            f"p95 latency {p95:.0f} ms is over {guards.max_p95_ratio:g}x the stable "
            f"{stable_p95:.0f} ms"
        )
    cost = canary.cost_per_call
    stable_cost = stable.cost_per_call
    if (
        guards.max_cost_per_call_usd is not None
        and cost is not None
        and cost > guards.max_cost_per_call_usd
    ):
        problems.append(
            f"cost per call ${cost:.6f} over the limit ${guards.max_cost_per_call_usd:.6f}"
        )
    if (
        guards.max_cost_ratio is not None
        and stable_judged
        and cost is not None
        and stable_cost
        and cost > guards.max_cost_ratio * stable_cost
    ):
        problems.append(
            f"cost per call ${cost:.6f} is over {guards.max_cost_ratio:g}x the stable "
            f"${stable_cost:.6f}"
        )
    if not problems:
        return None
    return Verdict(reason="; ".join(problems), evidence=evidence(canary, stable))
