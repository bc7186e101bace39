"""``workbench commit``, ``workbench lint`` and ``workbench doctor``: writing prompts
into the vault, checking them by rule, and checking this machine."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from workbench.cli.output import EXIT_FAILURE, EXIT_OK, emit, table
from workbench.cli.vault_cmds import Sub, open_vault, vault_path

# The app modules load inside the handlers: `workbench --help` stays fast.


def cmd_doctor(args: argparse.Namespace) -> int:
    from workbench.app.doctor import run_checks

    explicit = args.vault is not None or "WORKBENCH_VAULT" in os.environ
    checks = run_checks(vault_path(args), create_vault=not explicit)
    marks = {"ok": "ok", "warn": "warn", "fail": "FAIL"}

    def text() -> str:
        rows = [[marks[c.status], c.name, c.detail] for c in checks]
        lines = [table(["", "CHECK", "FOUND"], rows)]
        lines += [f"  {c.name}: {c.hint}" for c in checks if c.hint and c.status != "ok"]
        return "\n".join(lines)

    emit(args.json, checks, text)
    return EXIT_FAILURE if any(c.status == "fail" for c in checks) else EXIT_OK


def cmd_commit(args: argparse.Namespace) -> int:
    from workbench.app.identity import known_role
    from workbench.app.sources import prepare_commit
    from workbench.cli.promptfile import read_prompt_file
    from workbench.settings import load_settings

    content = read_prompt_file(Path(args.file))
    with open_vault(args) as vault:
        parents = None
        if args.parent:
            parents = [vault.get_version(args.name, args.parent).id]
        # Bindings to data sources: checked against their allow-lists, then pinned.
        content = prepare_commit(vault, args.name, content, known_role(load_settings()))
        v = vault.commit(args.name, content, args.message, author=args.author, parents=parents)
    emit(args.json, v, f"committed {v.prompt} {v.display_number} ({v.content_hash[:12]})")
    return EXIT_OK


def cmd_lint(args: argparse.Namespace) -> int:
    """Lint prompts' latest versions (or the named ones): exit 1 on any error finding."""
    from workbench.app.lint import lint_content, rules_for
    from workbench.app.sources import source_reads
    from workbench.settings import load_settings

    config = load_settings().lint
    with open_vault(args) as vault:
        names = args.names or vault.prompt_names(include_archived=False)
        reports = []
        for name in names:
            version = vault.get_version(name, "latest")
            reads = source_reads(vault, version.content)
            findings = lint_content(name, version.content, rules_for(name, config), reads)
            reports.append((name, version.display_number, findings))
    errors = sum(f.severity == "error" for _n, _v, fs in reports for f in fs)
    warnings = sum(f.severity == "warning" for _n, _v, fs in reports for f in fs)

    def text() -> str:
        lines = [
            f"{name} {number}: {f.text()}" + (f"\n  hint: {f.hint}" if f.hint else "")
            for name, number, findings in reports
            for f in findings
        ]
        summary = (
            f"{len(reports)} prompt{'s' if len(reports) != 1 else ''} linted: "
            f"{errors} error{'s' if errors != 1 else ''}, "
            f"{warnings} warning{'s' if warnings != 1 else ''}"
        )
        return "\n".join([*lines, summary])

    emit(
        args.json,
        {
            "errors": errors,
            "warnings": warnings,
            "prompts": [
                {"prompt": n, "version": v, "findings": [f.__dict__ for f in fs]}
                for n, v, fs in reports
            ],
        },
        text,
    )
    return EXIT_FAILURE if errors else EXIT_OK


# ---- parsers --------------------------------------------------------------------------


def add_parser(sub: Sub, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "lint",
        help="check prompts by rule (keys, personal data, variables, Langfuse, budgets)",
        parents=[parent],
    )
    p.add_argument("names", nargs="*", help="prompts to lint (default: every prompt)")
    p.set_defaults(handler=cmd_lint)

    p = sub.add_parser(
        "doctor", help="check this machine: vault, keys, keychain, registry, display",
        parents=[parent],
    )  # fmt: skip
    p.set_defaults(handler=cmd_doctor)

    p = sub.add_parser(
        "commit", help="commit a new version from a YAML/JSON file", parents=[parent]
    )
    p.add_argument("name", help="prompt name; '/' makes folders (support/reply)")
    p.add_argument("--file", "-f", required=True, help="prompt file (YAML or JSON; see README)")
    p.add_argument("--message", "-m", required=True, help="what changed")
    p.add_argument("--parent", help="continue from this version (default: the latest)")
    p.add_argument("--author", help="author name (default: $WORKBENCH_AUTHOR or login)")
    p.set_defaults(handler=cmd_commit)
