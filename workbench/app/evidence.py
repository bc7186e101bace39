"""Evidence for a version: the runs of the vault that tried it, and the one that counts.

One function answers for the CLI (``workbench review approve --evidence``) and the
window (the review queue, the publish dialog): :func:`find_evidence`.

Only a *finished* run with *every* cell present counts: a cancelled run, a failed one
or one missing cells (26 of 54 calls) is partial, is labelled so, and is never
chosen, however new it is. The chosen run is summarised per model for the version,
with the pass rate from the cases' assertion checks. Choosing needs only counts
(from the run log's index); only the chosen run's cells of the version are read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from workbench.core.errors import UsageError
from workbench.core.models import PromptVersion
from workbench.core.runs import SummaryRow, summarize
from workbench.registry.schemas import EvalEvidence
from workbench.vault.repository import Vault
from workbench.vault.runs import RunCounts, RunStore

RUNS_SCANNED = 50
"""How many of a prompt's latest runs that tried the version are looked at."""


@dataclass(frozen=True)
class RunEvidence:
    """One run that tried the version. ``rows`` (one per model, this version only) are
    filled for the chosen run; partial runs carry only their counts."""

    run_id: uuid.UUID
    started_at: datetime
    status: str
    total_cells: int
    stored_cells: int
    rows: tuple[SummaryRow, ...] = ()

    @classmethod
    def of(cls, counts: RunCounts, rows: tuple[SummaryRow, ...] = ()) -> RunEvidence:
        return cls(
            counts.run_id,
            counts.started_at,
            counts.status,
            counts.total_cells,
            counts.stored_cells,
            rows,
        )

    @property
    def complete(self) -> bool:
        """Finished, with every cell of its matrix in the run log."""
        return self.status == "finished" and self.stored_cells == self.total_cells

    @property
    def partial(self) -> bool:
        return not self.complete

    @property
    def state(self) -> str:
        """ "finished", or why it does not count: "partial: cancelled, 26 of 54 calls"."""
        if self.complete:
            return "finished"
        return f"partial: {self.status}, {self.stored_cells} of {self.total_cells} calls"

    @property
    def calls(self) -> int:
        return sum(r.calls for r in self.rows)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.rows)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.rows)

    @property
    def failed(self) -> int:
        return sum(r.failed for r in self.rows)

    @property
    def checked(self) -> int:
        return sum(r.checked for r in self.rows)

    @property
    def pass_rate(self) -> float | None:
        """Share of the version's calls that answered with every check holding; None
        when no case has assertions (then only answering counts, see :func:`pass_rate`)."""
        return pass_rate(self.passed, self.calls, self.checked)

    def to_eval(self) -> EvalEvidence:
        """The summary a review carries to the registry.

        "passed" counts calls that answered with every assertion of their test case
        holding (``workbench eval``); "failed" the calls that errored or broke one.
        Without assertions only answering counts. Latency is the worst model's p95."""
        p95s = [r.latency_p95_ms for r in self.rows if r.latency_p95_ms is not None]
        costs = [r.cost_usd for r in self.rows]
        return EvalEvidence(
            passed=self.passed,
            failed=self.failed,
            p95_latency_ms=max(p95s) if p95s else None,
            cost_usd=None if any(c is None for c in costs) else sum(c or 0.0 for c in costs),
            run_id=str(self.run_id),
        )


def pass_rate(passed: int, calls: int, checked: int) -> float | None:
    """passed / calls when any call was checked by an assertion, else None."""
    if not calls or not checked:
        return None
    return passed / calls


@dataclass(frozen=True)
class EvidenceReport:
    """``chosen``: the newest complete run (None: there is none); ``partial``: the runs
    newer than it that do not count, newest first, so a person sees why."""

    chosen: RunEvidence | None
    partial: tuple[RunEvidence, ...] = ()


def find_evidence(vault: Vault, version: PromptVersion, scan: int = RUNS_SCANNED) -> EvidenceReport:
    """The evidence for ``version``: its prompt's newest complete run that tried it."""
    store = RunStore(vault)
    partial: list[RunEvidence] = []
    for counts in store.runs_with_version(version.prompt, version.id, limit=scan):
        candidate = RunEvidence.of(counts)
        if candidate.partial:
            partial.append(candidate)
            continue
        stored = store.summary_rows(counts.run_id, version.id)
        if stored is None:  # a run from before summaries were stored: read its cells
            cells = store.version_cells(counts.run_id, version.id)
            stored = [r for r in summarize(cells) if r.version_id == version.id]
        return EvidenceReport(RunEvidence.of(counts, tuple(stored)), tuple(partial))
    return EvidenceReport(None, tuple(partial))


def review_evidence(
    report: EvidenceReport, version: PromptVersion, *, required: bool = False
) -> EvalEvidence | None:
    """What a review decision carries, the same in the CLI and the window: the chosen
    finished run's evidence whenever the vault has one (the CLI attached it only with
    ``--evidence``, the window always). ``required`` refuses a decision without one."""
    if report.chosen is not None:
        return report.chosen.to_eval()
    if not required:
        return None
    partial = f" (only partial runs: {report.partial[0].state})" if report.partial else ""
    raise UsageError(
        f"this vault has no finished run of {version.prompt} {version.display_number} "
        f"to attach{partial}",
        hint=f"Run its test cases first: workbench eval {version.prompt} "
        f"--versions {version.display_number}",
    )
