"""Evidence for a version: the runs of the vault that tried it, and the one that counts.

One function answers for the CLI (``workbench review approve --evidence``) and the
window (the review queue, the publish dialog): :func:`find_evidence`.

Only a *finished* run with *every* cell present counts: a cancelled run, a failed one
or one missing cells (26 of 54 calls) is partial, is labelled so, and is never
chosen, however new it is. The chosen run is summarised per model for the version,
with the pass rate from the cases' assertion checks. Choosing needs only counts
(from the run log's index); only the chosen run's cells of the version are read.

What a review carries is bound to what was reviewed: the summary names the version's
content hash, the suite the run ran (its cases' suite hash), its models and how many
cases it ran, and it is attached only when the registry's rule
(``workbench.registry.policy.attach_problem``) accepts it for the reviewed suite, the
same rule the server applies.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from workbench.core.errors import UsageError
from workbench.core.models import PromptVersion
from workbench.core.runs import RunSpec, SummaryRow, summarize
from workbench.core.suites import run_suite_hash
from workbench.registry.policy import attach_problem
from workbench.registry.schemas import EvalEvidence, FolderPolicy
from workbench.vault.repository import Vault
from workbench.vault.run_queries import RunCounts
from workbench.vault.runs import RunStore

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
    content_hash: str | None = None
    """The version's content hash (what the evidence covers)."""
    suite_hash: str | None = None
    """The suite the run ran (``run_suite_hash`` of its cases; None: defaults only)."""
    models: tuple[str, ...] = ()
    cases_run: int = 0

    @classmethod
    def of(
        cls,
        counts: RunCounts,
        rows: tuple[SummaryRow, ...] = (),
        *,
        spec: RunSpec | None = None,
        content_hash: str | None = None,
    ) -> RunEvidence:
        return cls(
            counts.run_id,
            counts.started_at,
            counts.status,
            counts.total_cells,
            counts.stored_cells,
            rows,
            content_hash=content_hash,
            suite_hash=run_suite_hash(spec.cases) if spec is not None else None,
            models=tuple(str(m) for m in spec.models) if spec is not None else (),
            cases_run=len({c.name for c in spec.cases}) if spec is not None else 0,
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
            content_hash=self.content_hash,
            suite_hash=self.suite_hash,
            finished=self.complete,
            models=self.models,
            cases_run=self.cases_run,
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
            partial.append(_evidence(store, counts, version, with_rows=False))
            continue
        return EvidenceReport(_evidence(store, counts, version), tuple(partial))
    return EvidenceReport(None, tuple(partial))


def run_evidence(
    vault: Vault, version: PromptVersion, run_prefix: str, scan: int = RUNS_SCANNED
) -> RunEvidence:
    """The evidence of one chosen run of ``version`` (``--run ID``), partial or not."""
    store = RunStore(vault)
    for counts in store.runs_with_version(version.prompt, version.id, limit=scan):
        if str(counts.run_id).startswith(run_prefix.lower()):
            return _evidence(store, counts, version)
    raise UsageError(
        f"no run {run_prefix!r} of {version.prompt} {version.display_number} in this vault",
        hint=f"See the runs with: workbench runs list {version.prompt}",
    )


def _evidence(
    store: RunStore, counts: RunCounts, version: PromptVersion, *, with_rows: bool = True
) -> RunEvidence:
    spec = store.load_spec(str(counts.run_id))
    stored: list[SummaryRow] = []
    if with_rows:
        found = store.summary_rows(counts.run_id, version.id)
        if found is None:  # a run from before summaries were stored: read its cells
            cells = store.version_cells(counts.run_id, version.id)
            found = [r for r in summarize(cells) if r.version_id == version.id]
        stored = list(found)
    return RunEvidence.of(counts, tuple(stored), spec=spec, content_hash=version.content_hash)


@dataclass(frozen=True)
class ReviewedSuite:
    """What a review names besides the version: the prompt's suite in the registry (as
    of the last sync), how many cases it has, and the folder's policy (None: unknown,
    offline; the registry checks it anyway)."""

    suite_hash: str | None
    cases: int | None
    policy: FolderPolicy | None = None


def reviewed_suite(vault: Vault, prompt: str, policy: FolderPolicy | None = None) -> ReviewedSuite:
    from workbench.vault.suites import SuiteStore

    store = SuiteStore(vault)
    hash_ = store.registry_hash(prompt)
    cases = store.suite(hash_)
    return ReviewedSuite(hash_, len(cases) if cases is not None else None, policy)


def evidence_problem(
    evidence: RunEvidence, version: PromptVersion, suite: ReviewedSuite
) -> str | None:
    """The registry's rule (``registry.policy.attach_problem``), asked before sending."""
    return attach_problem(
        evidence.to_eval(),
        prompt=version.prompt,
        content_hash=version.content_hash,
        suite_hash=suite.suite_hash,
        suite_cases=suite.cases,
        policy=suite.policy or FolderPolicy(),
    )


def review_evidence(
    report: EvidenceReport,
    version: PromptVersion,
    *,
    required: bool = False,
    suite: ReviewedSuite | None = None,
    chosen: RunEvidence | None = None,
) -> EvalEvidence | None:
    """What a review decision carries, the same in the CLI and the window: the chosen
    finished run's evidence whenever the vault has one (the CLI attached it only with
    ``--evidence``, the window always) and the registry's rule accepts it for the
    reviewed suite. ``required`` (or a run ``chosen`` by hand) refuses a decision
    without acceptable evidence, with the rule's reason."""
    run = chosen or report.chosen
    suite = suite or ReviewedSuite(None, None)
    if run is not None:
        problem = evidence_problem(run, version, suite)
        if problem is None:
            return run.to_eval()
        if required or chosen is not None:
            raise UsageError(
                f"cannot attach this evidence to {version.prompt} {version.display_number}: "
                f"{problem}",
                hint="Or approve without --evidence/--run (an approval without evidence).",
            )
        return None
    if not required:
        return None
    partial = f" (only partial runs: {report.partial[0].state})" if report.partial else ""
    raise UsageError(
        f"this vault has no finished run of {version.prompt} {version.display_number} "
        f"to attach{partial}",
        hint=f"Run its test cases first: workbench eval {version.prompt} "
        f"--versions {version.display_number}",
    )
