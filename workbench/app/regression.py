"""Regression view: a candidate version against a label's version, case by case.

``workbench eval NAME --against production`` and the Review panel both use this. The
two versions run in one run (one spec: the same cases, the candidate's suite, and the
same models, so nothing but the version differs), and each case x model is put in one
of four groups by whether it passed before (on the baseline) and passes now (on the
candidate): fixed, regressed, still failing, still passing. A regressed case carries a
short diff of the two answers.

The baseline is found without the network: a label from the vault's mirror of the
registry's labels (as of the last ``workbench sync``; a canary's second version is not
the baseline, the label's own version is) or a local label, else any version
reference (``vN``, ``draftN``, the start of an id) so it works in a vault that never
synced. A case x model passes when every repeat of it passed. A regression whose
candidate side was not judged (the call did not answer, or a rubric's grader gave no
grade) is "could not judge", not a regression: nothing shows the answer got worse.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from workbench.core.errors import NotFoundError
from workbench.core.models import PromptVersion
from workbench.core.runs import CellResult, ModelRef, Run, RunSpec, cases_or_defaults
from workbench.vault import Vault

Change = Literal["fixed", "regressed", "still_failing", "still_passing"]
CHANGES: tuple[Change, ...] = ("regressed", "fixed", "still_failing", "still_passing")
"""In the order a report lists them: what needs attention first."""
Verdict = Literal["ok", "regressed", "could_not_judge"]

DIFF_LINES = 12
DIFF_WIDTH = 200


@dataclass(frozen=True)
class RegressionPlan:
    """The two versions to compare and how the baseline was named."""

    prompt: str
    candidate: PromptVersion
    baseline: PromptVersion
    against: str
    """What the baseline was asked by (``production``, ``v3``)."""
    from_label: bool
    """True when ``against`` is a label of the prompt (mirrored or local)."""

    @property
    def same(self) -> bool:
        """The candidate is the baseline: nothing can change."""
        return self.candidate.id == self.baseline.id

    @property
    def version_ids(self) -> tuple[uuid.UUID, ...]:
        """Baseline first, as the run's columns read left to right: before, after."""
        return (self.baseline.id, self.candidate.id)


def plan_regression(
    vault: Vault, prompt: str, against: str, candidate: str = "latest"
) -> RegressionPlan:
    """Resolve the candidate (default: the head version) and the baseline ``against``.
    Raises ``NotFoundError`` saying how to get the label when the vault has none."""
    head = vault.get_version(prompt, candidate)
    labels = {lab.name for lab in vault.labels(prompt)}
    try:
        base = vault.get_version(prompt, against)
    except NotFoundError as exc:
        raise NotFoundError(
            f"{prompt!r} has no label or version {against!r} in this vault",
            hint=(
                "Run 'workbench sync' to mirror the registry's labels, or compare against a "
                f"version (vN, draftN; see: workbench vault history {prompt})."
            ),
        ) from exc
    return RegressionPlan(prompt, head, base, against, from_label=against in labels)


def regression_spec(
    vault: Vault, plan: RegressionPlan, models: Sequence[ModelRef], *, concurrency: int = 8
) -> RunSpec:
    """One run of both versions on the prompt's own cases (else one case of the declared
    defaults) and ``models``: what the Review panel runs (the CLI builds the same spec
    through ``eval``'s options)."""
    return RunSpec(
        prompt=plan.prompt,
        version_ids=plan.version_ids,
        models=tuple(models),
        cases=cases_or_defaults(vault.test_cases(plan.prompt)),
        concurrency=concurrency,
    )


class Side(BaseModel):
    """One version's cells of one case x model."""

    model_config = ConfigDict(frozen=True)

    passed: bool
    judged: bool
    """False when a failing cell did not answer or a grader gave it no grade."""
    why: str = ""
    """Why it failed (the first failing cell's error or broken checks)."""
    output: str = ""
    """The first cell's answer (or its error)."""


class CaseChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_index: int
    case: str
    model: str
    change: Change
    baseline: Side
    candidate: Side
    diff: tuple[str, ...] = ()
    """For a regression: the answers' differences, ``-`` baseline, ``+`` candidate."""


class RegressionReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    prompt: str
    run_id: uuid.UUID
    against: str
    baseline: str
    """The baseline version as people name it (``v3``)."""
    baseline_id: uuid.UUID
    candidate: str
    candidate_id: uuid.UUID
    models: tuple[str, ...]
    changes: tuple[CaseChange, ...]

    def count(self, change: Change) -> int:
        return sum(1 for c in self.changes if c.change == change)

    @property
    def regressed(self) -> tuple[CaseChange, ...]:
        return tuple(c for c in self.changes if c.change == "regressed")

    @property
    def verdict(self) -> Verdict:
        """``regressed`` when a case that passed on the baseline fails, judged, on the
        candidate; ``could_not_judge`` when every such failure was not judged."""
        regressed = self.regressed
        if any(c.candidate.judged for c in regressed):
            return "regressed"
        return "could_not_judge" if regressed else "ok"


def _why(cell: CellResult) -> str:
    if not cell.ok:
        return f"error: {cell.error}"
    return "; ".join(f"{k.assertion.describe()}: {k.detail}" for k in cell.checks if not k.passed)


def _side(cells: Sequence[CellResult]) -> Side:
    failing = [c for c in cells if not c.passed]
    first = cells[0]
    return Side(
        passed=not failing,
        judged=all(c.ok and not c.unjudged for c in failing),
        why=_why(failing[0]) if failing else "",
        output=first.output if first.ok else f"error: {first.error}",
    )


def _change(before: bool, after: bool) -> Change:
    if before:
        return "still_passing" if after else "regressed"
    return "fixed" if after else "still_failing"


def output_diff(old: str, new: str) -> tuple[str, ...]:
    """A short line diff of two answers (at most ``DIFF_LINES`` lines, each cut at
    ``DIFF_WIDTH`` characters); identical answers: none."""
    if old == new:
        return ()
    lines = [
        line
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1)
        if not line.startswith(("---", "+++"))
    ]
    cut = [ln if len(ln) <= DIFF_WIDTH else ln[: DIFF_WIDTH - 1] + "…" for ln in lines]
    if len(cut) > DIFF_LINES:
        cut = [*cut[:DIFF_LINES], f"… {len(cut) - DIFF_LINES} more lines"]
    return tuple(cut)


def regression_report(run: Run, plan: RegressionPlan) -> RegressionReport:
    """The per-case changes of a run that holds both of the plan's versions."""
    groups: dict[tuple[int, str, uuid.UUID], list[CellResult]] = {}
    for cell in run.cells:
        groups.setdefault(
            (cell.key.case_index, str(cell.key.model), cell.key.version_id), []
        ).append(cell)
    keys = sorted({(i, m) for i, m, _v in groups}, key=lambda k: (k[0], str(k[1])))
    cases = run.spec.cases
    changes = []
    for index, model in keys:
        before = groups.get((index, model, plan.baseline.id))
        after = groups.get((index, model, plan.candidate.id))
        if not before or not after:  # a partial (cancelled) run: only what both have
            continue
        base, cand = _side(before), _side(after)
        change = _change(base.passed, cand.passed)
        name = (cases[index].name if index < len(cases) else "") or f"case {index + 1}"
        changes.append(
            CaseChange(
                case_index=index, case=name, model=model, change=change, baseline=base,
                candidate=cand,
                diff=output_diff(base.output, cand.output) if change == "regressed" else (),
            )
        )  # fmt: skip
    return RegressionReport(
        prompt=plan.prompt,
        run_id=run.id,
        against=plan.against,
        baseline=plan.baseline.display_number,
        baseline_id=plan.baseline.id,
        candidate=plan.candidate.display_number,
        candidate_id=plan.candidate.id,
        models=tuple(str(m) for m in run.spec.models),
        changes=tuple(sorted(changes, key=lambda c: (CHANGES.index(c.change), c.case_index))),
    )
