"""Production figures and "what served this?", one flow for ``workbench prod`` /
``workbench trace`` and the window.

The registry computes everything (from its hourly rollups); here the answers are only
put into words: one line per version and label, e.g. ``production v3: 12,400 calls,
p95 1.2 s, $4.10/day``, and a call's story (which version and label it was served,
which model answered, with which parameters, and what it cost). Money follows the
workbench's rule: unpriced calls are said, never counted as $0.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from workbench.core.errors import UsageError
from workbench.core.money import format_usd
from workbench.registry.schemas import CanaryGuards, CanaryHalt, LabelState
from workbench.registry.telemetry_schemas import ProdStats, ServedAnswer, ServedCall, VersionStats

_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([hdw])$")


def parse_since(text: str | None, *, now: datetime | None = None) -> datetime | None:
    """``--since``: ``24h``, ``7d``, ``2w``, a date (midnight UTC) or an ISO time."""
    if text is None:
        return None
    now = now or datetime.now(UTC)
    match = _AGO.match(text.strip().lower())
    if match:
        amount, unit = float(match.group(1)), match.group(2)
        hours = {"h": 1, "d": 24, "w": 168}[unit]
        return now - timedelta(hours=amount * hours)
    return parse_time(text, "--since")


def parse_time(text: str, option: str = "--at") -> datetime:
    """An ISO date or time (UTC unless it says otherwise), or a clear error."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not a time",
            hint="Write e.g. 2026-12-04T10:30:00Z, 2026-12-04, or for --since 24h / 7d.",
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def ms_text(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms"


def cost_text(row: VersionStats, per_day: bool = True) -> str:
    """The one money rule for production rows: a number only when every call is priced
    (``$0.02``), else the priced part and how many calls are not in it. ``per_day``:
    the rate since the version's first call in the period (``≈ $4.10/day``), which for
    a version that began serving an hour ago is an extrapolation, so it says ≈."""
    if row.calls and row.unpriced == row.calls:
        return "cost unknown"
    cost = f"≈ {format_usd(row.cost_per_day_usd)}/day" if per_day else format_usd(row.cost_usd)
    if row.unpriced:
        cost = f"≥ {cost.removeprefix('≈ ')} (+{row.unpriced:,} unpriced calls)"
    return cost


def version_name(row: VersionStats) -> str:
    return f"v{row.version}" if row.version else "(unlinked)"


def version_line(row: VersionStats) -> str:
    """``production v3: 12,400 calls, p95 1.2 s, $4.10 (≈ $4.10/day)`` and what else is
    known: the period's cost, and the daily rate since the version's first call."""
    who = f"{row.label or '(no label)'} {version_name(row)}"
    parts = [f"{row.calls:,} calls"]
    if row.error_rate is not None and row.errors:
        parts.append(f"{row.error_rate * 100:.1f}% errors")
    parts.append(f"p95 {ms_text(row.p95_ms)}")
    if row.ttft_p50_ms is not None:
        parts.append(f"TTFT p50 {ms_text(row.ttft_p50_ms)}")
    total = cost_text(row, per_day=False)
    parts.append(total if total == "cost unknown" else f"{total} ({cost_text(row)})")
    return f"{who}: " + ", ".join(parts)


def stats_text(stats: ProdStats) -> str:
    """The ``workbench prod`` report."""
    window = f"{stats.since:%Y-%m-%d %H:%M} to {stats.until:%Y-%m-%d %H:%M} UTC"
    if not stats.rows:
        return f"{stats.prompt}: no production calls from {window}"
    lines = [f"{stats.prompt}, {window}:"]
    for row in stats.rows:
        lines.append("  " + version_line(row))
        apps = ", ".join(f"{a.app} {a.calls:,}" for a in row.by_app)
        tokens = f"tokens in {row.input_tokens:,} / out {row.output_tokens:,}"
        total = cost_text(row, per_day=False)
        lines.append(f"    p50 {ms_text(row.p50_ms)}, {tokens}, total {total}; apps: {apps}")
    return "\n".join(lines)


def halt_text(state: LabelState) -> str | None:
    """What the CLI and the window say about a canary the registry halted."""
    halt: CanaryHalt | None = state.halted
    if halt is None:
        return None
    return (
        f"the canary v{halt.canary_number} of {state.prompt}@{state.name} was halted by the "
        f"registry on {halt.at:%Y-%m-%d %H:%M} UTC: {halt.reason}"
    )


def call_text(call: ServedCall) -> str:
    version = f"v{call.version}" if call.version else "no known version"
    how = {"attribute": "by the span's prompt attributes", "resolution": "by the resolve record"}
    lines = [
        f"trace {call.trace_id} span {call.span_id} at {call.at:%Y-%m-%d %H:%M:%S} UTC "
        f"from {call.app}" + (f" (key {call.caller_key})" if call.caller_key else ""),
        f"  prompt: {call.prompt or '-'} {version}"
        + (f" via {call.label}" if call.label else "")
        + (f" (linked {how[call.linked_by]})" if call.linked_by else ""),
        f"  model: {call.response_model or call.request_model or '-'}"
        + (f" by {call.provider}" if call.provider else "")
        + (f" (asked for {call.request_model})" if call.request_model
           and call.response_model and call.request_model != call.response_model else ""),
    ]  # fmt: skip
    if call.parameters:
        params = ", ".join(f"{k}={v}" for k, v in call.parameters.items())
        lines.append(f"  parameters (the version's model defaults): {params}")
    tokens = f"{call.input_tokens if call.input_tokens is not None else '?'} in / " + (
        f"{call.output_tokens if call.output_tokens is not None else '?'} out"
    )
    cost = format_usd(call.cost_usd) if call.cost_usd is not None else "unknown"
    lines.append(
        f"  tokens {tokens}, cost {cost}, latency {ms_text(call.latency_ms)}, "
        f"TTFT {ms_text(call.ttft_ms)}"
        + (f", error {call.error}" if call.error else "")
        + (f", finish {','.join(call.finish_reasons)}" if call.finish_reasons else "")
    )
    return "\n".join(lines)


def served_text(answer: ServedAnswer) -> str:
    """The ``workbench trace`` report."""
    lines = []
    r = answer.resolution
    if r is not None:
        lines.append(
            f"resolved for {r.app}" + (f" key {r.key}" if r.key else "")
            + f": {r.prompt} v{r.version} via {r.label} ({r.served}), served from "
            f"{r.first_seen:%Y-%m-%d %H:%M:%S} to {r.last_seen:%Y-%m-%d %H:%M:%S} UTC"
        )  # fmt: skip
        if answer.parameters:
            params = ", ".join(f"{k}={v}" for k, v in answer.parameters.items())
            lines.append(f"  parameters: {params}")
    elif answer.calls:
        lines.append(
            f"{len(answer.calls)} call{'s' if len(answer.calls) != 1 else ''} found "
            "(the registry has no record of resolving the prompt for this caller then: "
            "the calls named their prompt themselves)"
        )
    else:
        lines.append("no resolution on record for this caller at that time")
    if not answer.calls:
        lines.append("no production calls stored around that time")
    lines.extend(call_text(c) for c in answer.calls)
    return "\n".join(lines)


def guards_from(
    *,
    max_error_rate: float | None = None,
    max_error_rate_over_stable: float | None = None,
    max_p95_ms: float | None = None,
    max_p95_ratio: float | None = None,
    max_cost_per_call: float | None = None,
    max_cost_ratio: float | None = None,
    min_calls: int | None = None,
) -> CanaryGuards | None:
    """The canary's guard rails from the options given (None when none was)."""
    from pydantic import ValidationError

    limits = {
        "max_error_rate": max_error_rate,
        "max_error_rate_over_stable": max_error_rate_over_stable,
        "max_p95_ms": max_p95_ms,
        "max_p95_ratio": max_p95_ratio,
        "max_cost_per_call_usd": max_cost_per_call,
        "max_cost_ratio": max_cost_ratio,
    }
    given = {k: v for k, v in limits.items() if v is not None}
    if not given:
        if min_calls is not None:
            raise UsageError(
                "--min-calls sets when the guards start judging, but no guard was given",
                hint="Add e.g. --max-error-rate 0.05 or --max-p95-ratio 1.5.",
            )
        return None
    try:
        return CanaryGuards(**given, **({"min_calls": min_calls} if min_calls else {}))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3]
        )
        raise UsageError(
            f"the canary guards are not valid: {problems}",
            hint="Error rates are fractions (0.05 = 5%); ratios and limits are positive.",
        ) from None
