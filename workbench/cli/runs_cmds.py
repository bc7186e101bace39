"""``workbench runs|cases``: past runs and a prompt's test cases, offline from the vault."""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli.compare_cmds import cells_csv, one_format, run_json, summary_text, version_labels
from workbench.cli.output import (
    EXIT_OK,
    emit,
    number_type,
    table,
)
from workbench.cli.vault_cmds import open_vault
from workbench.core.errors import UsageError
from workbench.core.money import format_total
from workbench.core.words import counted

if TYPE_CHECKING:
    from workbench.core.runs import Run

Sub = Any


# ---- runs ---------------------------------------------------------------------------


def cmd_runs_list(args: argparse.Namespace) -> int:
    from workbench.vault.runs import RunStore

    with open_vault(args) as vault:
        store = RunStore(vault)
        rows = store.list_runs(args.prompt, limit=args.limit)

    data = [
        {
            "id": str(r.id),
            "prompt": r.prompt,
            "status": r.status,
            "started_at": r.started_at,
            "cells": r.stored_cells,
            "planned_cells": r.planned_cells,
            # The one money rule: a number only when every call is priced.
            "cost_usd": r.cost.usd,
            "priced_usd": r.cost.priced_usd,
            "unpriced_calls": r.cost.unpriced_calls,
        }
        for r in rows
    ]
    emit(
        args.json,
        data,
        lambda: (
            table(
                ["RUN", "PROMPT", "STATUS", "STARTED", "CELLS", "COST"],
                [
                    [
                        str(r.id)[:8],
                        r.prompt,
                        r.status,
                        r.started_at.astimezone().strftime("%Y-%m-%d %H:%M"),
                        r.cells_text,
                        format_total(r.cost),
                    ]
                    for r in rows
                ],
            )
            if rows
            else "no runs yet: try  workbench compare PROMPT --models echo:echo"
        ),
    )
    return EXIT_OK


def _find_run(args: argparse.Namespace) -> tuple[Run, dict[uuid.UUID, str]]:
    from workbench.vault.runs import RunStore

    with open_vault(args) as vault:
        run = RunStore(vault).find(args.run)
        return run, version_labels(vault, run.spec)


def cmd_runs_show(args: argparse.Namespace) -> int:
    one_format(args)
    run, labels = _find_run(args)
    if args.csv:
        sys.stdout.write(cells_csv(run, labels))
    else:
        emit(args.json, run_json(run, labels), lambda: summary_text(run, labels))
    return EXIT_OK


def cmd_runs_chart(args: argparse.Namespace) -> int:
    from workbench.charts.run_charts import save_run_chart
    from workbench.charts.run_layout import partial_note

    out = Path(args.out)
    if out.suffix.lower() not in {".png", ".svg", ".pdf"}:
        raise UsageError(
            f"cannot write a chart as {out.suffix or 'a file without suffix'}",
            hint="Name the output .png, .svg or .pdf",
        )
    run, labels = _find_run(args)
    partial = partial_note(run.status, len(run.cells), run.spec.total_cells)
    save_run_chart(out, run.cells, labels, partial=partial)
    emit(
        args.json,
        {"path": str(out), "cells": len(run.cells)},
        f"wrote {out} ({len(run.cells)} cells)",
    )
    return EXIT_OK


def cmd_cases_show(args: argparse.Namespace) -> int:
    with open_vault(args) as vault:
        vault.get_prompt(args.name)  # a clear error for an unknown prompt
        cases = vault.test_cases(args.name)
    names = sorted({k for c in cases for k in c.values})

    def text() -> str:
        if not cases:
            return f"{args.name} has no test cases: add them with  workbench cases set NAME FILE"
        rows = [[c.name, *(str(c.values.get(k, "")) for k in names)] for c in cases]
        return table(["NAME", *names], rows)

    emit(args.json, cases, text)
    return EXIT_OK


def cmd_cases_set(args: argparse.Namespace) -> int:
    from workbench.core.cases import read_cases

    cases = read_cases(Path(args.file))
    with open_vault(args) as vault:
        vault.set_test_cases(args.name, cases)
    emit(
        args.json,
        {"prompt": args.name, "cases": len(cases)},
        f"{args.name}: {len(cases)} test cases saved in the vault",
    )
    return EXIT_OK


def cmd_runs_prune(args: argparse.Namespace) -> int:
    """Delete old runs and their cells (the run log's retention)."""
    from datetime import UTC, timedelta

    from workbench.settings import load_settings
    from workbench.vault.runs import RunStore

    days = args.older_than or load_settings().log_retention_days
    if days is None:
        raise UsageError(
            "how old must a run be to go?",
            hint="Give --older-than DAYS, or set log_retention_days in the settings.",
        )
    before = datetime.now(UTC) - timedelta(days=days)
    with open_vault(args) as vault:
        runs, cells = RunStore(vault).prune(before)
    emit(
        args.json,
        {"runs": runs, "cells": cells, "before": before.isoformat()},
        f"deleted {counted(runs, 'run')} ({counted(cells, 'call')}) started more than "
        f"{counted(days, 'day')} ago",
    )
    return EXIT_OK


def add_parser(sub: Sub, parent: argparse.ArgumentParser) -> None:
    runs = sub.add_parser("runs", help="past runs (offline, from the vault)", parents=[parent])
    rsub = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    p = rsub.add_parser("list", help="list runs", parents=[parent])
    p.add_argument("prompt", nargs="?")
    p.add_argument(
        "--limit", type=number_type(int, 1, 10_000), default=30,
        help="the newest this many runs (30)",
    )  # fmt: skip
    p.set_defaults(handler=cmd_runs_list)
    p = rsub.add_parser(
        "prune", help="delete runs older than N days, with their cells", parents=[parent]
    )
    p.add_argument(
        "--older-than", type=number_type(int, 1, None), metavar="DAYS",
        help="age in days (default: log_retention_days from the settings)",
    )  # fmt: skip
    p.set_defaults(handler=cmd_runs_prune)
    p = rsub.add_parser("show", help="a run's summary (or --csv / --json)", parents=[parent])
    p.add_argument("run", help="run id or its first characters")
    p.add_argument("--csv", action="store_true", help="every cell as CSV")
    p.set_defaults(handler=cmd_runs_show)
    p = rsub.add_parser(
        "chart", help="TTFT, latency, cost and token charts of a run", parents=[parent]
    )
    p.add_argument("run", help="run id or its first characters")
    p.add_argument("--out", "-o", required=True, help="output file: .png, .svg or .pdf")
    p.set_defaults(handler=cmd_runs_chart)
    cases = sub.add_parser(
        "cases", help="a prompt's test cases (kept in the vault)", parents=[parent]
    )
    csub = cases.add_subparsers(dest="cases_command", metavar="ACTION", required=True)
    p = csub.add_parser("show", help="list a prompt's test cases", parents=[parent])
    p.add_argument("name")
    p.set_defaults(handler=cmd_cases_show)
    p = csub.add_parser("set", help="replace them from a CSV, JSON or YAML file", parents=[parent])
    p.add_argument("name")
    p.add_argument("file")
    p.set_defaults(handler=cmd_cases_set)
