"""``workbench eval NAME --against LABEL``: the candidate against a label's version.

The comparison is :mod:`workbench.app.regression` (the Review panel shows the same);
this module only runs the matrix the way ``eval`` does and prints the report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.cli.output import EXIT_COULD_NOT_RUN, EXIT_FAILURE, EXIT_OK, emit, table
from workbench.cli.vault_cmds import open_vault
from workbench.core.errors import UsageError
from workbench.core.words import counted

if TYPE_CHECKING:
    from workbench.app.regression import Change, RegressionPlan, RegressionReport, Side

CHANGE_WORDS: dict[Change, str] = {
    "regressed": "REGRESSED",
    "fixed": "fixed",
    "still_failing": "still failing",
    "still_passing": "still passing",
}


def cmd_eval_against(args: argparse.Namespace) -> int:
    from workbench.app.regression import plan_regression, regression_report
    from workbench.cli.compare_cmds import run_matrix
    from workbench.cli.eval_cmds import junit_xml

    refs = [r.strip() for r in (args.versions or "latest").split(",") if r.strip()]
    if len(refs) != 1:
        raise UsageError(
            "--against compares one candidate version with the baseline; "
            f"--versions names {len(refs)}",
            hint="e.g. workbench eval support/reply --versions v4 --against production",
        )
    with open_vault(args) as vault:
        plan = plan_regression(vault, args.prompt, args.against, refs[0])
    if plan.same:
        said = (
            f"the candidate {plan.candidate.display_number} is {_baseline(plan)}: "
            "nothing to compare, nothing ran"
        )
        emit(args.json, {"verdict": "ok", "same_version": True, "note": said}, lambda: said)
        return EXIT_OK
    args.versions = ",".join(str(v) for v in plan.version_ids)
    try:
        run, labels = run_matrix(args, quiet=args.json)
    except KeyboardInterrupt:
        sys.stderr.write("\ncancelled: finished cells are kept in the vault\n")
        return 130
    if args.junit:
        from workbench.core.files import write_atomic

        write_atomic(Path(args.junit), junit_xml(run, labels))
    report = regression_report(run, plan)
    emit(
        args.json,
        {**report.model_dump(mode="json"), "verdict": report.verdict,
         "counts": {c: report.count(c) for c in CHANGE_WORDS}},
        lambda: report_text(report, plan),
    )  # fmt: skip
    return {"ok": EXIT_OK, "regressed": EXIT_FAILURE, "could_not_judge": EXIT_COULD_NOT_RUN}[
        report.verdict
    ]


def _baseline(plan: RegressionPlan) -> str:
    name = plan.baseline.display_number
    return f"{plan.against} ({name})" if plan.from_label else name


def _side(side: Side) -> str:
    if side.passed:
        return "pass"
    return "FAIL" if side.judged else "not judged"


def report_text(report: RegressionReport, plan: RegressionPlan) -> str:
    base = _baseline(plan)
    lines = [
        f"{report.prompt}: {report.candidate} (after) against {base} (before) on "
        f"{', '.join(report.models)}  (run {report.run_id})",
        table(
            ["CASE", "MODEL", "BEFORE", "AFTER", "CHANGE"],
            [
                [c.case, c.model, _side(c.baseline), _side(c.candidate), CHANGE_WORDS[c.change]]
                for c in report.changes
            ],
        ),
        ", ".join(f"{report.count(c)} {w.lower()}" for c, w in CHANGE_WORDS.items()),
    ]
    for c in report.regressed:
        lines += ["", f"regressed: {c.case} · {c.model}", f"  now: {c.candidate.why}"]
        lines += [f"  {d}" for d in c.diff] or [
            "  (the same answer; a check or the grader changed)"
        ]
    n = len(report.regressed)
    if report.verdict == "regressed":
        lines.append(
            f"\nREGRESSED: {counted(n, 'case')} passed on {base} and "
            f"{'fails' if n == 1 else 'fail'} on {report.candidate}"
        )
    elif report.verdict == "could_not_judge":
        lines.append(
            f"\nCOULD NOT JUDGE: {counted(n, 'case')} that passed on {base} got no judged "
            f"result on {report.candidate} (no answer, or no grade)"
        )
    else:
        lines.append(f"\nOK: nothing that passed on {base} fails on {report.candidate}")
    return "\n".join(lines)
