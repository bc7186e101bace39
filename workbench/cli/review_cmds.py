"""``workbench review ...``: the versions awaiting review, a version's suite against the
approved one, and approving or requesting changes (with a run as evidence)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from workbench.cli.output import EXIT_OK, EXIT_USAGE, emit, table
from workbench.cli.sync_cmds import Sub, registry_client
from workbench.cli.vault_cmds import open_vault
from workbench.core.errors import UsageError

if TYPE_CHECKING:
    from workbench.registry.schemas import Decision


def _awaiting(vault: Any) -> list[dict[str, Any]]:
    from workbench.registry.review import awaiting_review
    from workbench.vault.suites import SuiteStore

    suites = SuiteStore(vault)
    return [
        {**item.as_row(), "suite_hash": suites.registry_hash(item.version.prompt)}
        for item in awaiting_review(vault)
    ]


def cmd_review_list(args: argparse.Namespace) -> int:
    from workbench.core.suites import short as short_suite

    with open_vault(args) as vault:
        rows = _awaiting(vault)
    emit(
        args.json,
        rows,
        lambda: (
            table(
                ["PROMPT", "VERSION", "AUTHOR", "MESSAGE", "CHANGES REQUESTED", "SUITE"],
                [
                    [
                        r["prompt"],
                        f"v{r['version']}",
                        r["author"],
                        r["message"],
                        str(r["changes_requested"]),
                        short_suite(r["suite_hash"]),
                    ]
                    for r in rows
                ],
            )
            if rows
            else "nothing awaits review (run `workbench sync` to fetch new versions)"
        ),
    )
    return EXIT_OK


def _policy(prompt: str) -> Any:
    """The registry's evidence policy for ``prompt``; None offline (it checks anyway)."""
    from workbench.registry.errors import RegistryUnavailableError

    try:
        with registry_client() as client:
            return client.policy(prompt)
    except RegistryUnavailableError:
        return None


def _decide(args: argparse.Namespace, decision: Decision) -> int:
    from workbench.app.evidence import (
        evidence_problem,
        find_evidence,
        review_evidence,
        reviewed_suite,
        run_evidence,
    )
    from workbench.app.suite_review import suite_review
    from workbench.registry.errors import RegistryUnavailableError
    from workbench.registry.review import queue_review
    from workbench.registry.sync import Syncer

    with open_vault(args) as vault:
        version = vault.get_version(args.name, args.version)
        if version.number is None:
            raise UsageError(
                f"{version.display_number} of {args.name!r} is not in the registry yet",
                hint="Its author must sync it first (workbench sync).",
            )
        suite = reviewed_suite(vault, args.name, _policy(args.name))
        chosen = run_evidence(vault, version, args.run) if args.run else None
        found = find_evidence(vault, version)
        evidence = review_evidence(
            found, version, required=args.evidence, suite=suite, chosen=chosen
        )
        why_none = (
            evidence_problem(found.chosen, version, suite)
            if evidence is None and found.chosen is not None
            else None
        )
        suite_lines = suite_review(vault, args.name).lines()
        # Queued first: if the registry cannot be reached the decision waits, once.
        queue_review(vault, version, decision, args.comment or "", evidence, suite.suite_hash)
        try:
            with registry_client() as client:
                report = Syncer(vault, client).sync()
        except RegistryUnavailableError:
            emit(
                args.json,
                {"queued": True, "suite_hash": suite.suite_hash},
                f"offline: {decision} of {args.name} "
                f"{version.display_number} is queued and goes out with the next sync",
            )
            return EXIT_OK
    if report.rejected:
        emit(
            args.json,
            {"rejected": report.rejected},
            "refused by the registry:\n  " + "\n  ".join(report.rejected),
        )
        return EXIT_USAGE  # refused: the request, not a check, was wrong
    emit(
        args.json,
        {
            "decision": decision,
            "version": version.number,
            "suite_hash": suite.suite_hash,
            "evidence": evidence.model_dump(mode="json") if evidence else None,
        },
        "\n".join(
            [
                f"{decision}: {args.name} {version.display_number}",
                *suite_lines,
                "evidence: "
                + (
                    f"run {evidence.run_id} ({evidence.passed} passed, {evidence.failed} failed)"
                    if evidence and evidence.run_id
                    else "none attached" + (f" ({why_none})" if why_none else "")
                ),
            ]
        ),
    )
    return EXIT_OK


def cmd_review_show(args: argparse.Namespace) -> int:
    """The version's suite (hash, and its diff against production's approval suite)."""
    from workbench.app.suite_review import suite_review

    with open_vault(args) as vault:
        version = vault.get_version(args.name, args.version)
        review = suite_review(vault, args.name, args.label)
    emit(
        args.json,
        {
            "prompt": args.name,
            "version": version.number,
            "content_hash": version.content_hash,
            "suite_hash": review.suite_hash,
            "cases": len(review.cases),
            "published": review.published.number if review.published else None,
            "approved_with_suite": review.base_hash,
            "added": review.diff.added,
            "removed": review.diff.removed,
            "changed": review.diff.changed,
        },
        lambda: "\n".join(
            [
                f"{args.name} {version.display_number}  content {version.content_hash[:12]}",
                *review.lines(),
            ]
        ),
    )
    return EXIT_OK


def cmd_approve(args: argparse.Namespace) -> int:
    return _decide(args, "approve")


def cmd_reject(args: argparse.Namespace) -> int:
    if not args.comment:
        raise UsageError("say what should change", hint='Add -m "what to change"')
    return _decide(args, "request_changes")


# ---- parsers --------------------------------------------------------------------------


def add_parser(sub: Sub, parent: argparse.ArgumentParser) -> None:
    review = sub.add_parser("review", help="review versions", parents=[parent])
    rsub = review.add_subparsers(dest="review_command", metavar="ACTION", required=True)
    p = rsub.add_parser("list", help="versions awaiting review", parents=[parent])
    p.set_defaults(handler=cmd_review_list)
    p = rsub.add_parser(
        "show",
        help="a version's suite: its hash and the cases added, removed or changed since "
        "the suite the published version was approved with (as of the last sync)",
        parents=[parent],
    )
    p.add_argument("name")
    p.add_argument("version", help="vN, a label or a version id")
    p.add_argument(
        "--label", default="production", help="diff against this label's approval (production)"
    )
    p.set_defaults(handler=cmd_review_show)
    for name, handler, help_text in (
        ("approve", cmd_approve, "approve a version"),
        ("reject", cmd_reject, "request changes to a version"),
    ):
        p = rsub.add_parser(name, help=help_text, parents=[parent])
        p.add_argument("name")
        p.add_argument("version", help="vN, a label or a version id")
        p.add_argument(
            "-m", "--comment", default="",
            help="what is good, what should change (required to request changes)",
        )  # fmt: skip
        p.add_argument(
            "--evidence",
            action="store_true",
            help="refuse without a finished run of this version to attach (the latest one "
            "is attached whenever the vault has it and it covers the reviewed suite: "
            "pass/fail, p95, cost)",
        )
        p.add_argument(
            "--run", metavar="RUN_ID",
            help="attach this run (an id or its start) instead of the latest finished one; "
            "refused unless it finished, tried this version and ran every case of the "
            "suite on the models the folder's policy names",
        )  # fmt: skip
        p.set_defaults(handler=handler)
