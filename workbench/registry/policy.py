"""The one evidence rule, for the registry server and for clients that check first.

Two questions, each answered with the reason it fails (or None):

- :func:`attach_problem`: may this eval run be attached to a review of this version
  and suite? Only a finished run, of exactly that content hash and suite hash, that
  ran every case of the suite on every model the folder's policy names.
- :func:`publish_problem`: does an approval's evidence let a ``--require-evidence``
  registry publish the version to a protected label? The evidence must be there, for
  the prompt's *current* suite (not an older one), at or above the policy's pass rate
  and within its p95 latency and cost budgets.

The server decides (clients may be old or altered); the CLI and the window call the
same functions before queueing a decision, so a person hears the reason at once,
offline too, in the same words.
"""

from __future__ import annotations

from collections.abc import Iterable

from workbench.registry.schemas import EvalEvidence, FolderPolicy


def _short(hash_: str | None) -> str:
    return hash_[:12] if hash_ else "no suite"


def policy_for(prompt: str, policies: Iterable[FolderPolicy]) -> FolderPolicy:
    """The policy in force for ``prompt``: its deepest folder's (or the root's), else
    an empty one (no requirement)."""
    best: FolderPolicy | None = None
    for p in policies:
        if p.folder and not prompt.startswith(p.folder + "/"):
            continue
        if best is None or len(p.folder) > len(best.folder):
            best = p
    return best or FolderPolicy()


def attach_problem(
    evidence: EvalEvidence,
    *,
    prompt: str,
    content_hash: str,
    suite_hash: str | None,
    suite_cases: int | None,
    policy: FolderPolicy,
) -> str | None:
    """Why ``evidence`` may not be attached to a review of (content_hash, suite_hash);
    ``suite_cases``: how many cases that suite has (None: no suite)."""
    run = f"run {evidence.run_id[:8]}" if evidence.run_id else "the evidence run"
    if evidence.content_hash is None or evidence.finished is None or evidence.cases_run is None:
        return (
            f"{run} does not say which version, suite and models it covers (a summary from "
            "an older workbench); run `workbench eval` with this workbench and attach that run"
        )
    if not evidence.finished:
        return (
            f"{run} is partial (it did not finish with every call stored); run "
            f"`workbench eval {prompt}` to the end and attach that run"
        )
    if evidence.content_hash != content_hash:
        return (
            f"{run} tried content {evidence.content_hash[:12]}, not the reviewed version's "
            f"{content_hash[:12]}; run `workbench eval {prompt}` on this version"
        )
    if suite_cases is not None and evidence.cases_run < suite_cases:
        return (
            f"{run} ran {evidence.cases_run} of the suite's {suite_cases} cases; run every "
            f"case (`workbench eval {prompt}` without --cases)"
        )
    if evidence.suite_hash != suite_hash:
        return (
            f"{run} ran suite {_short(evidence.suite_hash)}, not the reviewed suite "
            f"{_short(suite_hash)}; sync, then run `workbench eval {prompt}` on the "
            "prompt's own cases"
        )
    missing = [m for m in policy.required_models if m not in evidence.models]
    if missing:
        return (
            f"{run} did not run on {', '.join(missing)}, which the policy for "
            f"{policy.describe()} requires; run `workbench eval {prompt} --models "
            f"{','.join(policy.required_models)}`"
        )
    return None


def publish_problem(
    evidence: EvalEvidence | None,
    *,
    prompt: str,
    number: int,
    current_suite_hash: str | None,
    review_suite_hash: str | None,
    policy: FolderPolicy,
) -> str | None:
    """Why an approval with ``evidence`` does not let v``number`` onto a protected label
    of a registry that requires evidence (None: it does)."""
    again = (
        f"run `workbench eval {prompt} --versions v{number}` on the current suite and "
        "approve again with it"
    )
    if evidence is None:
        return f"its approval carries no eval evidence; {again}"
    if review_suite_hash != current_suite_hash or evidence.suite_hash != current_suite_hash:
        return (
            f"its evidence ran suite {_short(evidence.suite_hash)}, older than the prompt's "
            f"current suite {_short(current_suite_hash)}; sync, {again}"
        )
    rate = evidence.pass_rate
    floor = policy.min_pass_rate
    if floor is None and not evidence.passing:
        return f"its evidence does not pass ({evidence.failed} failed); fix the prompt, {again}"
    if floor is not None and (rate is None or rate < floor):
        shown = "no calls" if rate is None else f"{rate * 100:.1f}%"
        return (
            f"its evidence passed {shown}, below the policy's {floor * 100:g}% "
            f"({policy.describe()}); fix the prompt, {again}"
        )
    if policy.max_p95_ms is not None and (
        evidence.p95_latency_ms is None or evidence.p95_latency_ms > policy.max_p95_ms
    ):
        seen = "unknown" if evidence.p95_latency_ms is None else f"{evidence.p95_latency_ms:g} ms"
        return f"its evidence's p95 latency {seen} is over the budget {policy.max_p95_ms:g} ms"
    if policy.max_cost_usd is not None and (
        evidence.cost_usd is None or evidence.cost_usd > policy.max_cost_usd
    ):
        seen = "unknown" if evidence.cost_usd is None else f"${evidence.cost_usd:.4f}"
        return f"its evidence's cost {seen} is over the budget ${policy.max_cost_usd:g}"
    return None
