"""``workbench provider|key|compare|eval|runs|cases``: models, keys and runs from the shell."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli.output import (
    EXIT_COULD_NOT_RUN,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    emit,
    number_type,
    table,
)
from workbench.cli.vault_cmds import open_vault
from workbench.core.errors import UsageError, WorkbenchError
from workbench.core.limits import DEFAULT_CALL_DEADLINE_S, DEFAULT_MAX_ANSWER_CHARS
from workbench.core.money import (
    CostTotal,
    cost_total,
    format_cells_total,
    format_total,
    format_usd,
)
from workbench.core.words import counted

if TYPE_CHECKING:
    from workbench.core.runs import CellKey, CellResult, Run, RunSpec

Sub = Any


# ---- providers and keys -------------------------------------------------------------


def _parse_price(text: str) -> tuple[str, dict[str, float]]:
    from workbench.providers.profiles import parse_price

    try:
        model, price = parse_price(text)
    except ValueError as exc:
        raise UsageError(
            f"--price: {exc}", hint="e.g. --price llama3.1=0,0 or --price my-model=0.5,1.5"
        ) from None
    return model, price.model_dump()


def cmd_provider_add(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from workbench.app.services import save_profile
    from workbench.providers.profiles import ProviderProfile

    prices = dict(_parse_price(p) for p in args.price or [])
    try:
        profile = ProviderProfile(
            name=args.name,
            family=args.family,
            base_url=args.base_url or "",
            key_name=args.key_name,
            key_env=args.key_env,
            concurrency=args.concurrency,
            prices=prices,
            models=tuple(args.model or ()),
        )
    except ValidationError as exc:
        from workbench.providers.profiles import profile_problem

        raise UsageError(
            f"invalid provider profile: {profile_problem(exc)}",
            hint="See: workbench provider add --help",
        ) from exc
    save_profile(profile)
    note = ""
    if profile.key_name:
        note = f"\nstore its key once with: workbench key set {profile.key_name}"
    emit(
        args.json,
        profile,
        f"saved provider {profile.name} ({profile.family}, "
        f"{profile.base_url or 'no network'}){note}",
    )
    return EXIT_OK


def cmd_provider_list(args: argparse.Namespace) -> int:
    from workbench.app.services import profiles_from
    from workbench.providers.profiles import detect_ollama
    from workbench.settings import load_settings

    profiles = profiles_from(load_settings())
    ollama = False
    if not any(p.family == "ollama" for p in profiles.values()):
        ollama = asyncio.run(detect_ollama())
    rows = [
        [
            p.name,
            p.family,
            p.base_url or "(none)",
            p.key_name or (f"${p.key_env}" if p.key_env else "-"),
            "run's" if p.concurrency is None else str(p.concurrency),
        ]
        for p in profiles.values()
    ]
    text = table(["NAME", "FAMILY", "BASE URL", "KEY", "CONCURRENCY"], rows)
    text += "\n(echo is built in: it returns the rendered prompt, calls no model, costs 0)"
    if ollama:
        text += (
            "\nAn Ollama server answers on 127.0.0.1:11434; add it with:"
            "  workbench provider add ollama --family ollama"
        )
    emit(args.json, {"profiles": list(profiles.values()), "ollama_detected": ollama}, text)
    return EXIT_OK


def cmd_provider_remove(args: argparse.Namespace) -> int:
    from workbench.app.services import remove_profile

    remove_profile(args.name)
    emit(args.json, {"removed": args.name}, f"removed provider {args.name}")
    return EXIT_OK


def cmd_provider_test(args: argparse.Namespace) -> int:
    from workbench.app.models import ModelCache, list_models, listing_for
    from workbench.app.services import key_resolver, profiles_from
    from workbench.settings import load_settings

    profiles = profiles_from(load_settings())
    profile = profiles.get(args.name)
    if profile is None:
        raise UsageError(
            f"no provider profile named {args.name!r}", hint="See: workbench provider list"
        )
    with open_vault(args) as vault:
        key = key_resolver(vault)(profile)

    # The one probe (the window's "Test connection" too); its answer is the model list
    # the window offers in Compare.
    cache = ModelCache.default()
    start = time.perf_counter()
    try:
        models = list_models(profile, key)
    except WorkbenchError as exc:
        if profile.family != "echo":
            cache.put(listing_for(profile, None, exc, cache.get(profile)))
        raise
    ms = (time.perf_counter() - start) * 1000
    if profile.family != "echo":
        cache.put(listing_for(profile, models, None))
    shown = ", ".join(models[:20]) + (" ..." if len(models) > 20 else "")
    emit(
        args.json,
        {"profile": profile.name, "models": models, "ms": ms},
        f"{profile.name}: ok in {ms:.0f} ms, {len(models)} models: {shown}",
    )
    return EXIT_OK


def cmd_key_set(args: argparse.Namespace) -> int:
    from workbench.secrets.keyring_store import KeyringStore
    from workbench.secrets.store import validate_secret_name, validate_secret_value

    name = validate_secret_name(args.name)
    if sys.stdin.isatty():
        value = getpass.getpass(f"key for {name} (input hidden): ")
    else:
        value = sys.stdin.readline().rstrip("\r\n")
    value = validate_secret_value(name, value)
    store = KeyringStore()
    store.set(name, value)
    emit(
        args.json,
        {"stored": name, "backend": store.backend_name},
        f"stored {name} in the keychain ({store.backend_name})",
    )
    return EXIT_OK


def cmd_key_delete(args: argparse.Namespace) -> int:
    from workbench.secrets.keyring_store import KeyringStore

    KeyringStore().delete(args.name)
    emit(args.json, {"deleted": args.name}, f"deleted {args.name} from the keychain")
    return EXIT_OK


# ---- compare ------------------------------------------------------------------------


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def _usd(v: float | None) -> str:
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


def _version_labels(vault: Any, spec: RunSpec) -> dict[uuid.UUID, str]:
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
                f"{_ms(r.ttft_p50_ms)}/{_ms(r.ttft_p95_ms)}",
                f"{_ms(r.latency_p50_ms)}/{_ms(r.latency_p95_ms)}",
                f"{r.input_tokens}/{r.output_tokens}" + ("~" if r.tokens_estimated else ""),
                _usd(r.cost_usd),
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
    grading = _grading_total(run.cells)
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


def _run_json(run: Run, labels: dict[uuid.UUID, str]) -> dict[str, Any]:
    from workbench.core.runs import summarize

    return {
        "run": run.model_dump(mode="json"),
        "versions": {str(k): v for k, v in labels.items()},
        "summary": [r.model_dump(mode="json") for r in summarize(run.cells)],
    }


def _parse_var(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(
            f"--var {text!r}: write NAME=VALUE", hint='e.g. --var ticket="My order is late"'
        )
    return name.strip(), value


def _run_matrix(args: argparse.Namespace, quiet: bool) -> tuple[Run, dict[uuid.UUID, str]]:
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
    fixed = dict(_parse_var(v) for v in args.var or [])
    cases: tuple[TestCase, ...] = tuple(read_cases(Path(args.cases))) if args.cases else ()
    with open_vault(args) as vault:
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
                + f"; estimate {_usd(estimate.cost_usd)}; "
                f"concurrency {'; '.join(caps) if caps else spec.concurrency}\n"
            )
        labels = _version_labels(vault, spec)
        run = run_with_telemetry(engine, spec, labels, bar, settings.otel_endpoint)
        return run, labels


def _one_format(args: argparse.Namespace) -> None:
    if args.json and args.csv:
        raise UsageError("--json and --csv both asked for", hint="Choose one output format.")


def cmd_compare(args: argparse.Namespace) -> int:
    _one_format(args)
    try:
        run, labels = _run_matrix(args, quiet=args.json or args.csv)
    except KeyboardInterrupt:
        sys.stderr.write("\ncancelled: finished cells are kept in the vault\n")
        return 130
    if args.csv:
        sys.stdout.write(cells_csv(run, labels))
    else:
        show = args.show_output or len(run.cells) <= SHOW_OUTPUT_UP_TO
        emit(
            args.json,
            _run_json(run, labels),
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


@dataclass(frozen=True)
class GateRow:
    version: str
    model: str
    passed: int
    failed: int
    calls: int
    pass_rate: float
    latency_p95_ms: float | None
    cost_usd: float | None
    ok: bool


def _rate(text: str) -> float:
    """A fraction for --min-pass-rate: 0 to 1 (0.9, not 90)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(
            f"{text} is not a fraction between 0 and 1 (write 0.9 for 90%)"
        )
    return value


def cmd_eval(args: argparse.Namespace) -> int:
    """The CI gate: run the prompt's test cases and fail unless enough of them pass."""
    from workbench.core.runs import summarize

    args.csv = False
    args.fail_model = None
    if args.against:
        from workbench.cli.regression_cmds import cmd_eval_against

        return cmd_eval_against(args)
    try:
        run, labels = _run_matrix(args, quiet=args.json)
    except KeyboardInterrupt:
        sys.stderr.write("\ncancelled: finished cells are kept in the vault\n")
        return 130
    rows = summarize(run.cells)
    gate = [
        GateRow(
            version=labels.get(r.version_id, str(r.version_id)),
            model=str(r.model),
            passed=r.passed,
            failed=r.failed,
            calls=r.calls,
            pass_rate=r.passed / r.calls if r.calls else 0.0,
            latency_p95_ms=r.latency_p95_ms,
            cost_usd=r.cost_usd,
            ok=r.calls > 0 and r.passed / r.calls >= args.min_pass_rate,
        )
        for r in rows
    ]
    ok = bool(gate) and all(g.ok for g in gate)
    verdict_code, could_not = _gate_verdict(ok, run, args.min_pass_rate)
    checked = sum(r.checked for r in rows)
    grading = _grading_total(run.cells)
    if args.junit:
        from workbench.core.files import write_atomic

        write_atomic(Path(args.junit), junit_xml(run, labels))
    failures = [c for c in run.cells if not c.passed]

    def text() -> str:
        body = table(
            ["VERSION", "MODEL", "PASSED", "FAILED", "PASS RATE", "LATENCY p95 ms", "COST", ""],
            [
                [g.version, g.model, str(g.passed), str(g.failed), f"{g.pass_rate:.0%}",
                 _ms(g.latency_p95_ms), _usd(g.cost_usd), "ok" if g.ok else "FAIL"]
                for g in gate
            ],
        )  # fmt: skip
        lines = [body]
        if not checked:
            lines.append(
                "note: no test case has assertions, so only answering is checked "
                "(add assert:KIND columns or an 'assert' mapping; see the README)"
            )
        for c in failures[:20]:
            case = run.spec.cases[c.key.case_index].name
            why = c.error or "; ".join(
                f"{k.assertion.describe()}: {k.detail}" for k in c.checks if not k.passed
            )
            # An answer that failed / that no grader could grade / no answer at all.
            word = ("UNGRADED" if c.unjudged else "FAIL") if c.ok else "ERROR"
            lines.append(
                f"{word} {labels.get(c.key.version_id, '?')} · {c.key.model} · {case}: {why}"
            )
        if len(failures) > 20:
            lines.append(f"... and {len(failures) - 20} more failures (see --json)")
        if could_not:
            if grading is not None:
                lines.append(grading[1])
            lines.append(
                f"COULD NOT JUDGE: {could_not}; the calls that answered did not fail the "
                f"gate  (run {run.id})"
            )
            return "\n".join(lines)
        if grading is not None:
            lines.append(grading[1])
        verdict = "PASS" if ok else "FAIL"
        lines.append(
            f"{verdict}: every version x model needs a pass rate of at least "
            f"{args.min_pass_rate:.0%}  (run {run.id})"
        )
        return "\n".join(lines)

    emit(
        args.json,
        {
            "ok": ok,
            "verdict": {0: "pass", 1: "fail", 2: "could_not_run", 3: "could_not_run"}[verdict_code],
            "could_not_run": could_not or None,
            "run": str(run.id),
            "groups": gate,
            "min_pass_rate": args.min_pass_rate,
            "grading": None if grading is None else grading[0],
        },
        text,
    )
    return verdict_code


def _grading_total(
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


def _gate_verdict(ok: bool, run: Run, min_pass_rate: float) -> tuple[int, str]:
    """The gate's exit code, and why it could not judge (empty when it could).

    0 passed. 1 regressed: answers failed their checks, enough to fail the gate even if
    every call that errored had passed. Otherwise the failure is only calls that did not
    answer: 3 when they could not be made (unreachable, a missing or refused key, a
    provider failing), 2 when the input was at fault (a case that does not render, a
    model the provider does not have). A script tells "regressed" from "could not run"."""
    if ok:
        return EXIT_OK, ""
    groups: dict[tuple[uuid.UUID, str], list[CellResult]] = {}
    for c in run.cells:
        groups.setdefault((c.key.version_id, str(c.key.model)), []).append(c)
    hopeful = all(
        sum(1 for c in cells if c.passed or not c.ok or c.unjudged) / len(cells) >= min_pass_rate
        for cells in groups.values()
    )
    errored = [c for c in run.cells if not c.ok]
    ungraded = [c for c in run.cells if c.unjudged]
    if not hopeful or not (errored or ungraded):
        return EXIT_FAILURE, ""
    parts = []
    if errored:
        kinds = sorted({c.error_kind or "error" for c in errored})
        n = len(errored)
        parts.append(f"{n} call{'s' if n != 1 else ''} did not answer ({', '.join(kinds)})")
    if ungraded:
        n = len(ungraded)
        parts.append(f"{n} answer{'s' if n != 1 else ''} could not be graded (rubric grader)")
    # A grader that failed judged nothing: the gate could not run, as for a call.
    code = EXIT_COULD_NOT_RUN if ungraded else errors_code(errored)
    return code, "; ".join(parts)


def junit_xml(run: Run, labels: dict[uuid.UUID, str]) -> str:
    """JUnit XML for CI systems: one suite per version x model, one test per cell."""
    from xml.etree import ElementTree as ET

    suites = ET.Element("testsuites", name=f"workbench eval {run.spec.prompt}")
    groups: dict[tuple[uuid.UUID, str], list[CellResult]] = {}
    for c in run.cells:
        groups.setdefault((c.key.version_id, str(c.key.model)), []).append(c)
    for (vid, model), cells in groups.items():
        # An answer that broke a check is a failure; a call that never answered
        # (unreachable, refused, did not render) is an error: nothing was judged.
        failed = [c for c in cells if c.ok and not c.passed]
        errored = [c for c in cells if not c.ok]
        suite = ET.SubElement(
            suites, "testsuite", name=f"{run.spec.prompt} {labels.get(vid, vid.hex[:8])} {model}",
            tests=str(len(cells)), failures=str(len(failed)), errors=str(len(errored)),
        )  # fmt: skip
        for c in cells:
            name = run.spec.cases[c.key.case_index].name + (
                f" #{c.key.repeat + 1}" if run.spec.repeats > 1 else ""
            )
            tc = ET.SubElement(
                suite, "testcase", name=name, classname=f"{run.spec.prompt}.{model}",
                time=f"{(c.latency_ms or 0) / 1000:.3f}",
            )  # fmt: skip
            if not c.ok:
                ET.SubElement(tc, "error", message=c.error or "", type=c.error_kind or "error")
            elif not c.passed:
                why = "; ".join(
                    f"{k.assertion.describe()}: {k.detail}" for k in c.checks if not k.passed
                )
                failure = ET.SubElement(tc, "failure", message=why)
                failure.text = c.output[:2000]
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


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
        return run, _version_labels(vault, run.spec)


def cmd_runs_show(args: argparse.Namespace) -> int:
    _one_format(args)
    run, labels = _find_run(args)
    if args.csv:
        sys.stdout.write(cells_csv(run, labels))
    else:
        emit(args.json, _run_json(run, labels), lambda: summary_text(run, labels))
    return EXIT_OK


def cmd_runs_chart(args: argparse.Namespace) -> int:
    from workbench.charts.run_charts import partial_note, save_run_chart

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


def _add_matrix_options(p: argparse.ArgumentParser) -> None:
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
    prov = sub.add_parser("provider", help="model provider profiles", parents=[parent])
    psub = prov.add_subparsers(dest="provider_command", metavar="ACTION", required=True)
    p = psub.add_parser("add", help="add or replace a profile", parents=[parent])
    p.add_argument("name")
    p.add_argument(
        "--family",
        required=True,
        choices=["openai", "anthropic", "gemini", "ollama"],
        help="API family; 'openai' covers every OpenAI-compatible server",
    )
    p.add_argument("--base-url", help="server URL (default: the family's public endpoint)")
    p.add_argument("--key-name", help="keychain entry holding the key (see: workbench key set)")
    p.add_argument("--key-env", help="environment variable with the key, for headless CI")
    p.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="the profile's own limit on calls in flight; a run gets the lower of its own "
        "--concurrency and this (default: no limit of its own, the run's applies)",
    )
    p.add_argument("--model", action="append", help="a model name, for servers that list none")
    p.add_argument(
        "--price",
        action="append",
        metavar="MODEL=IN,OUT",
        help="USD per million input,output tokens for MODEL (overrides genai-prices)",
    )
    p.set_defaults(handler=cmd_provider_add)
    p = psub.add_parser("list", help="list profiles", parents=[parent])
    p.set_defaults(handler=cmd_provider_list)
    p = psub.add_parser("test", help="connect and list the provider's models", parents=[parent])
    p.add_argument("name")
    p.set_defaults(handler=cmd_provider_test)
    p = psub.add_parser("remove", help="remove a profile", parents=[parent])
    p.add_argument("name")
    p.set_defaults(handler=cmd_provider_remove)

    key = sub.add_parser("key", help="provider keys in the OS keychain", parents=[parent])
    ksub = key.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    p = ksub.add_parser(
        "set", help="store a key (read from a hidden prompt or stdin, never argv)", parents=[parent]
    )
    p.add_argument("name", help="the key's name, as the profile's --key-name")
    p.set_defaults(handler=cmd_key_set)
    p = ksub.add_parser("delete", help="remove a key from the keychain", parents=[parent])
    p.add_argument("name")
    p.set_defaults(handler=cmd_key_delete)

    p = sub.add_parser("compare", help="run versions x models x test cases", parents=[parent])
    _add_matrix_options(p)
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

    p = sub.add_parser(
        "eval",
        help="CI gate: run the prompt's test cases; exit 1 unless enough pass",
        parents=[parent],
    )
    _add_matrix_options(p)
    p.add_argument(
        "--min-pass-rate", type=_rate, default=1.0, metavar="RATE",
        help="fraction of calls per version x model that must pass, 0 to 1 (default 1.0: "
        "all); exit 0 passed, 1 regressed, 2 bad input, 3 could not run",
    )  # fmt: skip
    p.add_argument("--junit", metavar="FILE", help="also write JUnit XML for CI systems")
    p.add_argument(
        "--against", metavar="LABEL",
        help="regression view: run the candidate (--versions, default: the head version) "
        "and LABEL's version on the same cases and models, print per case what was fixed, "
        "regressed, still fails or still passes (a diff of the answers for regressions); "
        "exit 1 on any regression. LABEL: a label as of the last sync (e.g. production), or "
        "a version (vN, draftN) offline; --min-pass-rate does not apply",
    )  # fmt: skip
    p.set_defaults(handler=cmd_eval)

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
