"""The line Compare shows before a run: how many calls the ticked choices make, what
they may cost (unpriced models said, never left out), and what would refuse or slow
the run (budgets, a profile's concurrency, a prompt that does not render)."""

from __future__ import annotations

from collections.abc import Callable

from workbench.core.errors import WorkbenchError
from workbench.core.runs import RunSpec
from workbench.core.words import counted
from workbench.engine.runner import Estimate
from workbench.ui.format import fmt_usd

Preflight = Callable[[RunSpec], tuple[RunSpec, Estimate]]
"""Budgets and the cost estimate, checked before a run starts (raises to refuse)."""


def calls_text(calls: int) -> str:
    return counted(calls, "call")


def estimate_text(estimate: Estimate, spec: RunSpec, priced_cost: float | None = None) -> str:
    """ "27 calls, ≈ $0.0123", and how many calls have no price and are not counted
    (``priced_cost``: the estimate of the calls that have one)."""
    head = calls_text(estimate.calls)
    unknown = estimate.unknown_price_models
    broken = ""
    if estimate.unrenderable_calls:  # they fail at once, calling no model
        first = estimate.render_errors[0] if estimate.render_errors else "does not render"
        broken = f" · {estimate.unrenderable_calls:,} will not render: {first}"
    # What the run header of the CLI says too: a profile that lowers the concurrency,
    # and budgets this run brings near their cap.
    extra = "".join(f" · {c}" for c in (*estimate.concurrency_caps, *estimate.warnings))
    if not unknown:
        return f"{head}, ≈ {fmt_usd(estimate.cost_usd)}{broken}{extra}"
    per_model = spec.total_cells // max(1, len(spec.models))
    unpriced = per_model * len(unknown)
    cost = "cost unknown" if priced_cost is None else f"≈ {fmt_usd(priced_cost)}"
    return f"{head}, {cost} ({unpriced:,} unpriced: {', '.join(unknown)}){broken}{extra}"


def estimate_line(spec: RunSpec, preflight: Preflight | None) -> str:
    """The status line for ``spec`` before Run: the same estimate and budget checks
    Run applies (with no ``preflight``, only the number of calls)."""
    if preflight is None:
        return f"{calls_text(spec.total_cells)} · Run (Ctrl+R)"
    try:
        _spec, estimate = preflight(spec)
    except WorkbenchError as exc:
        return f"{calls_text(spec.total_cells)} · cannot run: {exc}"
    unknown = set(estimate.unknown_price_models)
    priced = tuple(m for m in spec.models if str(m) not in unknown)
    priced_cost: float | None = estimate.cost_usd
    if unknown and priced:  # the same estimate over the models that have a price
        try:
            priced_cost = preflight(spec.model_copy(update={"models": priced}))[1].cost_usd
        except WorkbenchError:
            priced_cost = None
    line = estimate_text(estimate, spec, priced_cost)
    if unknown:
        line += " · give them a price in Settings → Providers → Prices"
    return f"{line} · Run (Ctrl+R)"
