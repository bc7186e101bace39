"""``workbench eval``: the CI gate over a prompt's test cases (and JUnit XML)."""

from __future__ import annotations

import argparse
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli.compare_cmds import (
    add_matrix_options,
    errors_code,
    grading_total,
    ms_text,
    run_matrix,
    usd_text,
)
from workbench.cli.output import (
    EXIT_COULD_NOT_RUN,
    EXIT_FAILURE,
    EXIT_OK,
    emit,
    table,
)

if TYPE_CHECKING:
    from workbench.core.runs import CellResult, Run

Sub = Any


@dataclass(frozen=True)
class GateRow:
    """One version x model row of the gate: its pass rate against the bar."""

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
        run, labels = run_matrix(args, quiet=args.json)
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
    grading = grading_total(run.cells)
    if args.junit:
        from workbench.core.files import write_atomic

        write_atomic(Path(args.junit), junit_xml(run, labels))
    failures = [c for c in run.cells if not c.passed]

    def text() -> str:
        body = table(
            ["VERSION", "MODEL", "PASSED", "FAILED", "PASS RATE", "LATENCY p95 ms", "COST", ""],
            [
                [g.version, g.model, str(g.passed), str(g.failed), f"{g.pass_rate:.0%}",
                 ms_text(g.latency_p95_ms), usd_text(g.cost_usd), "ok" if g.ok else "FAIL"]
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


def add_parser(sub: Sub, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "eval",
        help="CI gate: run the prompt's test cases; exit 1 unless enough pass",
        parents=[parent],
    )
    add_matrix_options(p)
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
