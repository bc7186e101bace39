"""What a cell and a total of a run say in words: the short readout lines the grid
draws (checks, times, tokens, cost), a cell's tooltip, and each checked assertion
as a person reads it, with what was measured when it failed."""

from __future__ import annotations

import statistics

from workbench.core.assertions import Assertion, CheckResult
from workbench.core.money import cost_total, format_total
from workbench.core.runs import CellResult
from workbench.core.words import counted
from workbench.ui.format import fmt_ms, fmt_tokens, fmt_usd


def checks_line(cell: CellResult) -> str | None:
    """ "✔ 2/2 checks" or "✘ 0/2 checks"; None when the case has no assertions."""
    if not cell.checks:
        return None
    held = sum(1 for c in cell.checks if c.passed)
    mark = "✔" if held == len(cell.checks) else "✘"
    return f"{mark} {held}/{len(cell.checks)} checks"


def ms_beside(ms: float, limit: float) -> str:
    """``fmt_ms``, unless it shows ``ms`` the same as the ``limit`` it is checked
    against: "total 1.00 s" beside a failed "at most 1.00 s" hid the failure, so the
    value gets the digits that tell it from the limit, in the unit it is shown in
    ("1.003 s", "1.00005 s"; "500.40 ms")."""
    shown = fmt_ms(ms)
    if ms == limit or shown != fmt_ms(limit):
        return shown
    if not shown.endswith(" s"):
        return f"{ms:,.2f} ms"
    for digits in range(3, 7):
        text = f"{ms / 1000:.{digits}f} s"
        if text != f"{limit / 1000:.{digits}f} s":
            return text
    return f"{ms / 1000:.6f} s"


def _time(ms: float | None, cell: CellResult, kind: str) -> str:
    """``fmt_ms``, with the digits that tell it from a limit the cell checks it against."""
    if ms is not None:
        for check in cell.checks:
            limit = check.assertion.value
            if check.assertion.type == kind and ms != limit and fmt_ms(ms) == fmt_ms(limit):
                return ms_beside(ms, limit)
    return fmt_ms(ms)


def readout_lines(cell: CellResult) -> list[str]:
    """The short lines of numbers for one cell: checks (if any), times, tokens/cost.

    Each line is short on purpose: the grid makes its columns at least as wide as
    the longest of them, so no number is ever cut."""
    ttft = _time(cell.original_ttft_ms if cell.cached else cell.ttft_ms, cell, "max_ttft_ms")
    latency = _time(
        cell.original_latency_ms if cell.cached else cell.latency_ms, cell, "max_latency_ms"
    )
    tin = fmt_tokens(cell.input_tokens, cell.tokens_estimated)
    tout = fmt_tokens(cell.output_tokens, cell.tokens_estimated)
    parts = [f"{tin}→{tout} tok", fmt_usd(cell.cost_usd), cell.finish_reason or "–"]
    if cell.cached:
        parts.append("cached")
    lines = [f"TTFT {ttft} · total {latency}", " · ".join(parts)]
    checks = checks_line(cell)
    return [checks, *lines] if checks else lines


def describe_assertion(assertion: Assertion) -> str:
    """An assertion as a person reads it, numbers in the grid's units."""
    value = assertion.value
    if assertion.type == "max_latency_ms":
        return f"total latency at most {fmt_ms(value)}"
    if assertion.type == "max_ttft_ms":
        return f"time to first token at most {fmt_ms(value)}"
    if assertion.type == "max_cost_usd":
        return f"cost at most {fmt_usd(value)}"
    if assertion.type == "max_chars":
        return f"at most {value:,.0f} characters"
    return assertion.describe()


def describe_check(check: CheckResult, cell: CellResult) -> str:
    """One checked assertion, with what was measured when it failed."""
    head = ("✔ " if check.passed else "✘ ") + describe_assertion(check.assertion)
    if check.grader is not None:  # a rubric: the grade, and what grading cost (not the cell's)
        grade = (
            f"scored {check.score:g}/{check.assertion.rubric_scale:g}"
            + (f", {check.reason}" if check.reason else "")
            if check.passed
            else check.detail
        )
        return f"{head}: {grade} (grading {fmt_usd(check.grader_cost_usd)})"
    if check.passed:
        return head
    measured = {
        "max_latency_ms": (cell.latency_ms, fmt_ms),
        "max_ttft_ms": (cell.ttft_ms, fmt_ms),
        "max_cost_usd": (cell.cost_usd, fmt_usd),
    }.get(check.assertion.type)
    if measured is not None:
        value, fmt = measured
        if value is None:
            return f"{head}: unknown"
        # "at most 1.00 s: was 1.00 s" never: a time gets the digits that tell them apart.
        shown = ms_beside(value, check.assertion.value) if fmt is fmt_ms else fmt(value)
        return f"{head}: was {shown}"
    return f"{head}: {check.detail}" if check.detail else head


def totals_lines(cells: list[CellResult]) -> list[str]:
    """The lines of a row or column total (empty before any cell has finished)."""
    if not cells:
        return []
    ok = [c for c in cells if c.ok]
    lat = [c.latency_ms for c in ok if c.latency_ms is not None]
    tin = sum(c.input_tokens or 0 for c in ok)
    tout = sum(c.output_tokens or 0 for c in ok)
    errors = len(cells) - len(ok)
    lines = [
        counted(len(cells), "call") + (f" · {errors} failed" if errors else ""),
        f"p50 {fmt_ms(statistics.median(lat)) if lat else '–'} · {tin:,}→{tout:,} tok",
        f"cost {format_total(cost_total(cells))}",  # the one money rule, as the CLI's
    ]
    if any(c.checks for c in cells):
        lines.append(f"{sum(1 for c in cells if c.passed)}/{len(cells)} passed")
    return lines


def cell_tooltip(cell: CellResult) -> str:
    lines = [
        f"model {cell.key.model}"
        + (f" (answered by {cell.answered_by})" if cell.answered_by else ""),
        f"TTFT {fmt_ms(cell.ttft_ms)}, total {fmt_ms(cell.latency_ms)}",
        f"tokens {cell.input_tokens} in, {cell.output_tokens} out"
        + (" (estimated)" if cell.tokens_estimated else ""),
        f"cost {fmt_usd(cell.cost_usd)}" + (f" ({cell.price_source})" if cell.price_source else ""),
        f"finish {cell.finish_reason}",
    ]
    if cell.cached:
        lines.append(f"from the response cache (originally {fmt_ms(cell.original_latency_ms)})")
    if cell.retries:
        lines.append(f"{len(cell.retries)} retries")
    if cell.echo:
        lines.append("echo provider: not a real model; its numbers measure this machine")
    lines.extend(describe_check(c, cell) for c in cell.checks)
    if not cell.ok:
        lines.append(f"error ({cell.error_kind}): {cell.error}")
    return "\n".join(lines)
