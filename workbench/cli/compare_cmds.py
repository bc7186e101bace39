"""``workbench compare``: versions x models x test cases from the shell.

Also the matrix options, the run and the readouts that ``eval`` and ``runs show`` share.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli.output import (
    EXIT_COULD_NOT_RUN,
    EXIT_OK,
    EXIT_USAGE,
    emit,
    number_type,
    table,
)
from workbench.cli.vault_cmds import open_run_vault
from workbench.core.errors import UsageError
from workbench.core.limits import DEFAULT_CALL_DEADLINE_S, DEFAULT_MAX_ANSWER_CHARS
from workbench.core.money import CostTotal, cost_total, format_cells_total, format_total, format_usd
from workbench.core.words import counted

if TYPE_CHECKING:
    from workbench.core.runs import CellKey, CellResult, Run, RunSpec

Sub = Any


# ---- compare ------------------------------------------------------------------------


def ms_text(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def usd_text(v: float | None) -> str:
    return format_usd(v)


class ProgressBar:
    """A one-line live progress bar on stderr (only when it is a terminal)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.start = time.perf_counter()
        self.errors = 0
        self.cost = CostTotal()

    def on_delta(self, key: CellKey, text: str) -> None:
        pass

    def on_cell(self, cell: CellResult, done: int, total: int, spent: float) -> None:
        self.errors += 0 if cell.ok else 1
        if not self.enabled:
            return
        self.cost += cost_total([cell])
        width = 30
        filled = int(width * done / max(total, 1))
        elapsed = time.perf_counter() - self.start
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}  {elapsed:5.1f} s  "
            f"{format_total(self.cost)}  errors {self.errors} "
        )
        sys.stderr.flush()
        if done == total:
            sys.stderr.write("\n")


def version_labels(vault: Any, spec: RunSpec) -> dict[uuid.UUID, str]:
    return {vid: vault.version_by_id(vid).display_number for vid in spec.version_ids}


def summary_text(run: Run, labels: dict[uuid.UUID, str]) -> str:
    from workbench.core.runs import summarize

    rows = summarize(run.cells)
    body = table(
        [
            "VERSION",
            "MODEL",
            "CALLS",
            "ERR",
            "TTFT p50/p95 ms",
            "LATENCY p50/p95 ms",
            "TOKENS in/out",
            "COST",
            "$/1k calls",
        ],
        [
            [
                labels.get(r.version_id, r.version_id.hex[:8]),
                str(r.model) + (" (echo)" if r.echo else ""),
                str(r.calls) + (f" ({r.cached} cached)" if r.cached else ""),
                str(r.errors),
                f"{ms_text(r.ttft_p50_ms)}/{ms_text(r.ttft_p95_ms)}",
                f"{ms_text(r.latency_p50_ms)}/{ms_text(r.latency_p95_ms)}",
                f"{r.input_tokens}/{r.output_tokens}" + ("~" if r.tokens_estimated else ""),
                usd_text(r.cost_usd),
                format_usd(r.cost_per_1k_calls_usd),
            ]
            for r in rows
        ],
    )
    notes = []
    if any(r.tokens_estimated for r in rows):
        notes.append("~ token counts estimated (the provider reported none)")
    if any(r.echo for r in rows):
        notes.append("echo: the built-in echo provider, not a model; its numbers are not a model's")
    errors = [c for c in run.cells if not c.ok]
    if errors:
        first = errors[0]
        notes.append(f"first error ({first.key.model}): {first.error}")
    n, planned = len(run.cells), run.spec.total_cells
    cells = f"{n} cells" if n == planned else f"{n} of {planned} cells (partial)"
    head = f"run {run.id}  {run.status}  {cells}  {format_cells_total(run.cells)}"
    grading = grading_total(run.cells)
    if grading is not None:  # the run's spending includes it; the cells' readouts do not
        head += f"  + rubric grading {format_total(grading[2])}"
    return "\n".join([head, body, *notes])


def _case_name(run: Run, index: int) -> str:
    """A case as people name it (the grid and eval do too), not by its index."""
    cases = run.spec.cases
    return (cases[index].name or f"case {index + 1}") if index < len(cases) else ""


def cells_csv(run: Run, labels: dict[uuid.UUID, str]) -> str:
    """The run's cells in the one export schema (:mod:`workbench.app.export`)."""
    from workbench.app.export import cell_record, records_csv

    return records_csv(
        cell_record(
            c,
            version=labels.get(c.key.version_id, str(c.key.version_id)),
            case=_case_name(run, c.key.case_index),
        )
        for c in run.cells
    )


def run_json(run: Run, labels: dict[uuid.UUID, str]) -> dict[str, Any]:
    from workbench.core.runs import summarize

    return {
        "run": run.model_dump(mode="json"),
        "versions": {str(k): v for k, v in labels.items()},
        "summary": [r.model_dump(mode="json") for r in summarize(run.cells)],
    }


def parse_var(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(
            f"--var {text!r}: write NAME=VALUE", hint='e.g. --var ticket="My order is late"'
        )
    return name.strip(), value


def run_matrix(args: argparse.Namespace, quiet: bool) -> tuple[Run, dict[uuid.UUID, str]]:
    """Plan, check budgets, and run versions x models x cases (shared by compare and eval).
    Raises KeyboardInterrupt after Ctrl+C (finished cells are in the vault)."""
    from workbench.app.budget import preflight
    from workbench.app.services import make_engine
    from workbench.app.telemetry import run_with_telemetry
    from workbench.core.cases import read_cases
    from workbench.core.runs import ModelRef, RunSpec, TestCase, cases_or_defaults
    from workbench.settings import load_settings

    settings = load_settings()
    if args.models is not None and not args.models.strip(" ,"):
        raise UsageError("--models is empty", hint="Name at least one, e.g. --models echo:echo")
    try:
        models = tuple(
            ModelRef.parse(m.strip())
            for m in (args.models or ",".join(settings.default_models)).split(",")
            if m.strip()
        )
    except ValueError as exc:
        raise UsageError(str(exc), hint="e.g. --models echo:echo,openai:gpt-4o-mini") from exc
    fixed = dict(parse_var(v) for v in args.var or [])
    cases: tuple[TestCase, ...] = tuple(read_cases(Path(args.cases))) if args.cases else ()
    with open_run_vault(args) as vault:
        if not cases:  # the prompt's own test cases, else one case of defaults
            cases = cases_or_defaults(vault.test_cases(args.prompt))
        if fixed:  # --var values apply to every case
            cases = tuple(c.model_copy(update={"values": {**c.values, **fixed}}) for c in cases)
        refs = [r.strip() for r in (args.versions or "latest").split(",") if r.strip()]
        version_ids = tuple(dict.fromkeys(vault.get_version(args.prompt, r).id for r in refs))
        try:
            spec = RunSpec(
                prompt=args.prompt,
                version_ids=version_ids,
                models=models,
                cases=cases,
                repeats=args.repeat,
                concurrency=args.concurrency or settings.concurrency,
                use_cache=args.cache,
                fail_models=tuple(getattr(args, "fail_model", None) or ()),
                max_cost_usd=args.max_cost,
                call_deadline_s=args.call_deadline,
                run_deadline_s=args.deadline,
                max_answer_chars=args.max_answer_chars,
            )
        except ValueError as exc:
            raise UsageError(f"invalid run: {exc}", hint="See: workbench compare --help") from exc
        engine = make_engine(vault, settings)
        spec, estimate = preflight(engine, spec, settings.budgets)
        if not quiet:
            for warning in estimate.warnings:
                sys.stderr.write(f"warning: {warning}\n")
        bar = ProgressBar(spec.total_cells, enabled=sys.stderr.isatty() and not quiet)
        if not quiet:
            caps = engine.concurrency_caps(spec)
            sys.stderr.write(
                f"{counted(spec.total_cells, 'call')} ({counted(len(version_ids), 'version')} x "
                f"{counted(len(models), 'model')} x {counted(len(cases), 'case')} x "
                f"{args.repeat})"
                + (
                    f" + {counted(estimate.grading_calls, 'rubric grading call')}"
                    if estimate.grading_calls
                    else ""
                )
                + f"; estimate {usd_text(estimate.cost_usd)}; "
                f"concurrency {'; '.join(caps) if caps else spec.concurrency}\n"
            )
        labels = version_labels(vault, spec)
        run = run_with_telemetry(engine, spec, labels, bar, settings.otel_endpoint)
        return run, labels


def one_format(args: argparse.Namespace) -> None:
    if args.json and args.csv:
        raise UsageError("--json and --csv both asked for", hint="Choose one output format.")


def cmd_compare(args: argparse.Namespace) -> int:
    one_format(args)
    try:
        run, labels = run_matrix(args, quiet=args.json or args.csv)
    except KeyboardInterrupt:
        sys.stderr.write("\ncancelled: finished cells are kept in the vault\n")
        return 130
    if args.csv:
        sys.stdout.write(cells_csv(run, labels))
    else:
        show = args.show_output or len(run.cells) <= SHOW_OUTPUT_UP_TO
        emit(
            args.json,
            run_json(run, labels),
            lambda: summary_text(run, labels) + (outputs_text(run, labels) if show else ""),
        )
    return errors_code(run.cells)


def errors_code(cells: Sequence[CellResult]) -> int:
    """A run's exit code by the cells that did not answer: 0 none; 2 when each was the
    input's fault (a case that does not render, a model the provider does not have);
    else 3, could not run (unreachable, a refused or missing key, a provider failing).
    Checks that answers failed are not errors: only ``eval`` judges them."""
    from workbench.providers.errors import INPUT_KINDS

    kinds = {c.error_kind or "error" for c in cells if not c.ok}
    if not kinds:
        return EXIT_OK
    return EXIT_USAGE if kinds <= INPUT_KINDS else EXIT_COULD_NOT_RUN


def grading_total(
    cells: Sequence[CellResult],
) -> tuple[dict[str, Any], str, CostTotal] | None:
    """What rubric grading took (checks, grades had, their cost by the money rule) as
    JSON, a line and the total; None when no rubric was graded. Its cost is not in the
    table's COST, which is the graded calls' own."""
    checks = [k for c in cells for k in c.checks if k.grader is not None]
    if not checks:
        return None
    total = CostTotal()
    for k in checks:
        known = k.grader_cost_usd is not None
        total += CostTotal(k.grader_cost_usd or 0.0, int(known), int(not known))
    graded = sum(1 for k in checks if k.score is not None)
    data = {"checks": len(checks), "graded": graded, "cost_usd": total.usd}
    line = (
        f"rubric grading: {graded} of {counted(len(checks), 'check')} graded, "
        f"{format_total(total)} (not in COST above)"
    )
    return data, line, total


SHOW_OUTPUT_UP_TO = 6
"""Small runs print each answer under the table; bigger ones need --show-output."""


def outputs_text(run: Run, labels: dict[uuid.UUID, str], width: int = 600) -> str:
    cases = run.spec.cases
    parts = []
    for c in run.cells:
        case = cases[c.key.case_index].name if c.key.case_index < len(cases) else ""
        head = f"--- {labels.get(c.key.version_id, '?')} · {c.key.model} · {case}"
        if c.key.repeat:
            head += f" #{c.key.repeat + 1}"
        body = c.output if c.ok else f"error: {c.error}"
        if len(body) > width:
            body = body[:width] + f"… ({len(body) - width} more characters)"
        parts.append(f"{head}\n{body}")
    return "\n\n" + "\n\n".join(parts)


def add_matrix_options(p: argparse.ArgumentParser) -> None:
    """The options compare and eval share: what to run, with what, how hard."""
    p.add_argument("prompt")
    p.add_argument("--versions", help="comma-separated: latest, vN, labels, ids (default: latest)")
    p.add_argument("--models", help="comma-separated PROFILE:MODEL (default: from the settings)")
    p.add_argument(
        "--cases", help="test cases file: CSV, JSON or YAML (default: the prompt's own cases)"
    )
    p.add_argument(
        "--var",
        action="append",
        metavar="NAME=VALUE",
        help="a variable's value for every case (repeatable); enough for a quick try",
    )
    p.add_argument(
        "--repeat", type=number_type(int, 1, 100), default=1,
        help="run each cell this many times, 1 to 100 (p50/p95 over the repeats)",
    )  # fmt: skip
    p.add_argument(
        "--concurrency",
        type=number_type(int, 1, 256),
        help="calls in flight at most, 1 to 256 (default: from the settings); a profile that sets "
        "its own lower limit caps its calls, and the run header says so",
    )
    p.add_argument(
        "--cache",
        action="store_true",
        help="replay stored answers for identical requests (works offline)",
    )
    p.add_argument(
        "--max-cost", type=number_type(float, 0.0, None), metavar="USD",
        help="hard cap in USD for this run (0 or more)",
    )  # fmt: skip
    p.add_argument(
        "--call-deadline",
        type=number_type(float, 0.001, None),
        metavar="SECONDS",
        default=DEFAULT_CALL_DEADLINE_S,
        help="total time one call may take, retries and a slow stream included; past it "
        "the cell fails (default: %(default)g)",
    )
    p.add_argument(
        "--deadline",
        type=number_type(float, 0.001, None),
        metavar="SECONDS",
        help="total time for the whole run; calls still going then fail and calls not "
        "started are not made (default: none)",
    )
    p.add_argument(
        "--max-answer-chars",
        type=number_type(int, 1, None),
        metavar="N",
        default=DEFAULT_MAX_ANSWER_CHARS,
        help="an answer longer than this fails its cell instead of filling memory "
        "(default: %(default)d)",
    )


def add_parser(sub: Sub, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser("compare", help="run versions x models x test cases", parents=[parent])
    add_matrix_options(p)
    p.add_argument(
        "--fail-model",
        action="append",
        metavar="PROFILE:MODEL",
        help="make this model fail on purpose, to exercise fallbacks",
    )

    p.add_argument("--csv", action="store_true", help="every cell as CSV")
    p.add_argument(
        "--show-output",
        action="store_true",
        help=f"print every answer (runs of up to {SHOW_OUTPUT_UP_TO} calls always do)",
    )
    p.set_defaults(handler=cmd_compare)
