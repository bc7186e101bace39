"""``workbench costs|budget|log``: what model calls cost, the caps on it, and the run log
(offline, from the vault)."""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli.output import EXIT_OK, emit, table
from workbench.cli.vault_cmds import open_vault
from workbench.core.errors import UsageError, WorkbenchError
from workbench.core.money import CostTotal, format_total, format_usd
from workbench.core.words import counted

if TYPE_CHECKING:
    pass

from workbench.cli.output import number_type

Sub = Any


COST_GROUP_CHOICES = ("model", "profile", "prompt", "version", "author", "day", "week", "month")
"""The same as workbench.vault.spending.COST_GROUPS (a test holds them equal; the parser
does not import the vault)."""


def _since(text: str | None) -> datetime | None:
    """``--since``: a date (2026-12-01, midnight UTC) or an ISO time; None when absent."""
    from datetime import UTC, datetime

    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--since {text!r} is not a date", hint="Write it as 2026-12-01 or 2026-12-01T09:30"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _version_names(vault: Any, ids: Iterable[str]) -> dict[str, str]:
    """``prompt vN`` (or the draft's name) for each version id the vault holds."""
    names: dict[str, str] = {}
    for vid in ids:
        try:
            v = vault.version_by_id(uuid.UUID(vid))
        except (ValueError, WorkbenchError):
            continue
        names[vid] = f"{v.prompt} {v.display_number}"
    return names


def cmd_costs_by(args: argparse.Namespace) -> int:
    from workbench.vault.runs import RunStore

    since = _since(args.since)
    chart = Path(args.chart) if getattr(args, "chart", None) else None
    if chart is not None and chart.suffix.lower() not in {".png", ".svg", ".pdf"}:
        raise UsageError(
            f"cannot write a chart as {chart.suffix or 'a file without suffix'}",
            hint="Name the output .png, .svg or .pdf",
        )
    with open_vault(args) as vault:
        groups = RunStore(vault).costs_by(args.by, since)
        names = _version_names(vault, (g.key for g in groups)) if args.by == "version" else {}
    if args.by in ("day", "month"):  # a time line reads oldest first
        groups = sorted(groups, key=lambda g: g.key)
    rows = [
        {
            args.by: names.get(g.key, g.key),
            **({"version_id": g.key} if args.by == "version" else {}),
            "calls": g.calls,
            "errors": g.errors,
            "input_tokens": g.input_tokens,
            "output_tokens": g.output_tokens,
            "cost_usd": g.cost.usd,
            "priced_usd": g.cost.priced_usd,
            "unpriced_calls": g.cost.unpriced_calls,
            "cost_per_1k_calls_usd": g.cost_per_1k_calls,
        }
        for g in groups
    ]
    total = sum((g.cost for g in groups), CostTotal())

    def text() -> str:
        if not groups:
            return "no calls reached a model" + (f" since {args.since}" if since else "")
        per_1k = [g.cost_per_1k_calls for g in groups]
        body = table(
            [args.by.upper(), "CALLS", "ERRORS", "TOKENS IN/OUT", "COST", "PER 1K CALLS"],
            [
                [
                    str(r[args.by]),
                    f"{g.calls:,}",
                    f"{g.errors:,}",
                    f"{g.input_tokens:,}/{g.output_tokens:,}",
                    format_total(g.cost),
                    format_usd(p),
                ]
                for r, g, p in zip(rows, groups, per_1k, strict=True)
            ],
        )
        calls = sum(g.calls for g in groups)
        head = f"{calls:,} calls" + (f" since {args.since}" if since else "")
        return f"{body}\n{head}: {format_total(total)}"

    if chart is not None:
        from workbench.charts.cost_charts import save_cost_chart
        from workbench.charts.theme import DARK, LIGHT

        span = f" since {args.since}" if since else ""
        save_cost_chart(
            chart,
            [(str(r[args.by]), g.cost) for r, g in zip(rows, groups, strict=True)],
            f"Spending by {args.by}{span}: {format_total(total)}",
            DARK if args.dark else LIGHT,
        )
    if getattr(args, "csv", False):
        import csv
        import io

        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else [args.by])
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)
        sys.stdout.write(buf.getvalue())
    else:
        emit(args.json, {"by": args.by, "since": args.since, "groups": rows}, text)
    if chart is not None and not args.json and not getattr(args, "csv", False):
        sys.stderr.write(f"wrote {chart} ({counted(len(groups), 'bar')})\n")
    return EXIT_OK


def cmd_log(args: argparse.Namespace) -> int:
    """The run log: every model call, newest first, as a table or JSON lines."""
    from workbench.app.export import log_records, records_jsonl
    from workbench.core.money import CostTotal, format_total
    from workbench.vault.runs import RunStore

    since = _since(args.since)
    with open_vault(args) as vault:
        entries = RunStore(vault).log(
            prompt=args.prompt, model=args.model, since=since, errors_only=args.errors,
            limit=args.limit, offset=args.offset,
        )  # fmt: skip
        records = log_records(vault, entries)
    if args.jsonl:
        sys.stdout.write(records_jsonl(records))
        return EXIT_OK
    if not records:
        filtered = args.prompt or args.model or since or args.errors or args.offset
        sys.stdout.write(
            "no model call matches these filters\n" if filtered else "no model calls yet\n"
        )
        return EXIT_OK
    rows = []
    for e, r in zip(entries, records, strict=True):
        c = e.cell
        result = "cached" if c.cached else ("ok" if c.ok else f"error: {c.error_kind}")
        cost = CostTotal(c.cost_usd or 0.0, int(c.cost_usd is not None), int(c.cost_usd is None))
        kind = "rubric grader" if c.kind == "grader" else "call"
        rows.append([
            f"{c.finished_at.astimezone():%Y-%m-%d %H:%M:%S}", r["prompt"], r["version"],
            str(c.key.model), kind, r["case"], f"{c.input_tokens or 0}/{c.output_tokens or 0}",
            format_total(cost) if c.ok else "-", fmt_ms_cli(c.ttft_ms),
            fmt_ms_cli(c.latency_ms), str(len(c.retries)), result,
        ])  # fmt: skip
    more = f" (--offset {args.offset + args.limit} for more)" if len(rows) == args.limit else ""
    sys.stdout.write(
        table(
            [
                "WHEN",
                "PROMPT",
                "VERSION",
                "MODEL",
                "KIND",
                "CASE",
                "TOKENS",
                "COST",
                "TTFT",
                "LATENCY",
                "RETRIES",
                "RESULT",
            ],
            rows,
        )
        + f"\n{len(rows)} calls, newest first{more}\n"
    )
    return EXIT_OK


def _cap(text: str | None) -> float | None:
    """A cap typed on the command line: a USD amount, or 0 / none / off to clear it."""
    if text is None:
        return None
    if text.strip().lower() in ("0", "none", "off", ""):
        return -1.0  # "clear it"
    try:
        value = float(text.strip().lstrip("$"))
    except ValueError:
        raise UsageError(
            f"{text!r} is not an amount", hint="e.g. 5 or 2.50 (USD); 0 clears it"
        ) from None
    if not 0 < value < float("inf"):
        raise UsageError(f"{text!r} is not an amount above 0", hint="0, none or off clears it")
    return value


def cmd_budget_set(args: argparse.Namespace) -> int:
    from workbench.settings import ProviderBudget, load_settings, save_settings

    settings = load_settings()
    budgets = settings.budgets.model_copy(deep=True)
    given = {"per_day_usd": _cap(args.per_day), "per_month_usd": _cap(args.per_month)}
    if args.provider:
        if args.per_run is not None:
            raise UsageError("--per-run is for every run, not one provider",
                             hint="Set it without --provider.")  # fmt: skip
        own = budgets.per_provider.get(args.provider, ProviderBudget()).model_dump()
        own.update({k: (None if v == -1.0 else v) for k, v in given.items() if v is not None})
        budgets.per_provider[args.provider] = ProviderBudget.model_validate(own)
        if all(v is None for v in budgets.per_provider[args.provider].model_dump().values()):
            del budgets.per_provider[args.provider]
    else:
        given["per_run_usd"] = _cap(args.per_run)
        data = budgets.model_dump()
        data.update({k: (None if v == -1.0 else v) for k, v in given.items() if v is not None})
        budgets = type(budgets).model_validate(data)
    if args.warn_at is not None:
        budgets = budgets.model_copy(update={"warn_at": args.warn_at})
    settings.budgets = budgets
    save_settings(settings)
    return cmd_budget_show(args)


def cmd_budget_show(args: argparse.Namespace) -> int:
    from workbench.app.budget import budget_states, cap_text
    from workbench.settings import load_settings
    from workbench.vault.runs import RunStore

    budgets = load_settings().budgets
    with open_vault(args) as vault:
        states = budget_states(RunStore(vault), budgets)
    rows = [
        {
            "budget": s.label,
            "profile": s.profile,
            "period": s.period,
            "limit_usd": s.limit_usd,
            "spent_usd": s.spent_usd,
            "share": s.share,
            "warning": s.share >= budgets.warn_at,
        }
        for s in states
    ]

    def text() -> str:
        head = (
            f"per run: {'no cap' if budgets.per_run_usd is None else f'${budgets.per_run_usd:.2f}'}"
        )
        if not rows:
            return head + "\nno day or month caps (set one: workbench budget set --per-day 5)"
        body = table(
            ["BUDGET", "SPENT", "CAP", "USED", ""],
            [
                [str(r["budget"]), format_usd(float(r["spent_usd"] or 0)),
                 cap_text(float(r["limit_usd"] or 0)),
                 f"{r['share']:.0%}", "⚠ near the cap" if r["warning"] else ""]
                for r in rows
            ],
        )  # fmt: skip
        return f"{head}\n{body}\n(warnings at {budgets.warn_at:.0%}; calls in flight count)"

    emit(args.json, {"per_run_usd": budgets.per_run_usd, "warn_at": budgets.warn_at,
                     "budgets": rows}, text)  # fmt: skip
    return EXIT_OK


def fmt_ms_cli(ms: float | None) -> str:
    if ms is None:
        return "-"
    return f"{ms:,.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def cmd_costs(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    if args.by is not None or args.since is not None or args.csv or args.chart:
        if args.by is None:
            args.by = "day"
        return cmd_costs_by(args)

    from workbench.app.budget import period_starts, spending
    from workbench.settings import load_settings
    from workbench.vault.runs import RunStore

    budgets = load_settings().budgets
    with open_vault(args) as vault:
        store = RunStore(vault)
        spent = spending(store)
        day, month = period_starts()
        counts = {
            "today": store.priced_counts_since(day),
            "month": store.priced_counts_since(month),
            "total": store.priced_counts_since(datetime(1970, 1, 1, tzinfo=UTC)),
        }
    unpriced = {k: n for k, (_p, n) in counts.items()}

    def cap(v: float | None) -> str:
        return "" if v is None else f" of ${v:.2f}"

    def shown(usd: float, period: str) -> str:
        priced, n = counts[period]
        return format_total(CostTotal(usd, priced, n))

    emit(
        args.json,
        {**spent.__dict__, "unpriced_calls": unpriced, "budgets": budgets.model_dump()},
        f"spent today {shown(spent.today_usd, 'today')}{cap(budgets.per_day_usd)}\n"
        f"spent this month {shown(spent.month_usd, 'month')}"
        f"{cap(budgets.per_month_usd)}\n"
        f"spent in all {shown(spent.total_usd, 'total')}"
        + (
            "\n(unpriced calls: genai-prices has no price for their model; set one with "
            "workbench provider add ... --price MODEL=IN,OUT; budgets count only priced calls)"
            if unpriced["total"]
            else ""
        ),
    )
    return EXIT_OK


def add_parser(sub: Sub, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "costs", help="money spent on model calls, against the budgets", parents=[parent]
    )
    p.add_argument(
        "--by",
        choices=COST_GROUP_CHOICES,
        help="spending per model, profile, prompt, version, author (of the version), day, "
        "ISO week or month (calls, "
        "tokens, cost, cost per 1,000 calls)",
    )
    p.add_argument("--since", help="only calls since this date, e.g. 2026-12-01 (with --by)")
    p.add_argument("--csv", action="store_true", help="the groups as CSV (with --by)")
    p.add_argument("--chart", metavar="FILE", help="also draw the groups to FILE (.png/.svg/.pdf)")
    p.add_argument("--dark", action="store_true", help="the chart on a dark background")
    p.set_defaults(handler=cmd_costs)

    budget = sub.add_parser(
        "budget",
        help="spending caps per run, day and month, also per provider",
        parents=[parent],
    )
    bsub = budget.add_subparsers(dest="budget_command", metavar="ACTION", required=True)
    p = bsub.add_parser("show", help="the caps and what is spent under each", parents=[parent])
    p.set_defaults(handler=cmd_budget_show)
    p = bsub.add_parser("set", help="set caps (USD; 0 clears one)", parents=[parent])
    p.add_argument("--provider", help="the caps of this provider profile only")
    p.add_argument("--per-run", help="the most one run may spend (not with --provider)")
    p.add_argument("--per-day", help="the most all calls (or the provider's) may spend a day")
    p.add_argument("--per-month", help="the same, a calendar month")
    p.add_argument(
        "--warn-at", type=number_type(float, 0.01, 1.0), help="warn from this share of a cap (0.8)"
    )
    p.set_defaults(handler=cmd_budget_set)

    p = sub.add_parser(
        "log", help="the run log: every model call, newest first (offline)", parents=[parent]
    )
    p.add_argument("--prompt", help="only calls of this prompt")
    p.add_argument("--model", help="only this model: profile:model, or a model name")
    p.add_argument("--since", help="only calls since this date, e.g. 2026-12-01")
    p.add_argument("--errors", action="store_true", help="only calls that failed")
    p.add_argument(
        "--limit", type=number_type(int, 1, 100_000), default=100, help="at most this many (100)"
    )
    p.add_argument("--offset", type=number_type(int, 0, None), default=0, help="skip this many")
    p.add_argument(
        "--jsonl", action="store_true", help="one JSON object per call (variables redacted)"
    )
    p.set_defaults(handler=cmd_log)
