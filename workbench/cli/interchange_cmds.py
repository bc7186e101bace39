"""``workbench import|export promptfoo|prompty`` and the folder layout of
``workbench vault export|import --dir``: prompts in the files other tools and git use.

The flows live in :mod:`workbench.app.interchange`; this module parses arguments and
prints what was done, including everything a format could not carry (never silently).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.cli.output import EXIT_OK, emit
from workbench.cli.vault_cmds import open_vault
from workbench.core.errors import UsageError
from workbench.core.files import write_atomic

if TYPE_CHECKING:
    from workbench.app.interchange.common import Parsed, Report

Sub = Any

LISTED = 20
"""Unchanged prompts are named up to this many, then counted (--json lists them all)."""


def _role() -> str:
    from workbench.app.identity import known_role
    from workbench.settings import load_settings

    return known_role(load_settings())


def _profiles() -> dict[str, tuple[str, str]]:
    """Profile name -> (API family, base URL), to name models the other tool's way."""
    from workbench.app.services import profiles_from
    from workbench.settings import load_settings

    return {n: (p.family, p.base_url) for n, p in profiles_from(load_settings()).items()}


def _text(report: Report, verb: str) -> str:
    lines = [f"committed {v}" for v in report.committed]
    lines += [f"wrote {p}" for p in report.written]
    if report.cases_set:
        lines.append(f"test cases set: {', '.join(report.cases_set)}")
    if len(report.unchanged) > LISTED:
        lines.append(f"unchanged (nothing committed): {len(report.unchanged):,} prompts")
    elif report.unchanged:
        lines.append(f"unchanged (nothing committed): {', '.join(report.unchanged)}")
    lines += [f"skipped: {s}" for s in report.skipped]
    lines += [f"note: {n}" for n in report.notes]
    if report.models:
        lines.append(f"models it compares: --models {','.join(report.models)}")
    if not (report.committed or report.cases_set or report.written):
        lines.append(f"nothing {verb}")
    return "\n".join(lines)


def _import(args: argparse.Namespace, items: list[Parsed], report: Report, origin: str) -> int:
    from workbench.app.interchange.common import apply_parsed

    with open_vault(args) as vault:
        apply_parsed(vault, items, role=_role(), message=f"import from {origin}", report=report)
    emit(args.json, report.as_dict(), _text(report, "imported"))
    return EXIT_OK


def cmd_vault_export_dir(args: argparse.Namespace) -> int:
    from workbench.app.interchange.folder import export_dir

    with open_vault(args) as vault:
        report = export_dir(vault, Path(args.dir), args.names or None)
    emit(args.json, report.as_dict(), _text(report, "written"))
    return EXIT_OK


def cmd_vault_import_dir(args: argparse.Namespace) -> int:
    from workbench.app.interchange.folder import read_dir

    items = read_dir(Path(args.dir))
    return _import(args, items, _empty_report(), str(args.dir))


def _empty_report() -> Report:
    from workbench.app.interchange.common import Report

    return Report()


def cmd_import(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if args.format == "promptfoo":
        from workbench.app.interchange.promptfoo import read_promptfoo

        items, report = read_promptfoo(path, name=args.name, grader=args.grader)
    else:
        from workbench.app.interchange.prompty import read_prompty

        items, report = read_prompty(path, name=args.name)
    return _import(args, items, report, str(path))


def cmd_export(args: argparse.Namespace) -> int:
    with open_vault(args) as vault:
        version = vault.get_version(args.name, args.version)
        cases = vault.test_cases(args.name)
    if args.format == "promptfoo":
        from workbench.app.interchange.promptfoo_export import write_promptfoo

        models = [m.strip() for m in (args.models or "").split(",") if m.strip()]
        text, report = write_promptfoo(version, cases, models=models, profiles=_profiles())
    else:
        from workbench.app.interchange.prompty import write_prompty

        if args.models:
            raise UsageError("--models is for promptfoo exports", hint="Leave it out.")
        text, report = write_prompty(version, cases, profiles=_profiles())
    to_stdout = args.out is None or str(args.out) == "-"
    if to_stdout and args.json:
        emit(True, {**report.as_dict(), "text": text}, "")
        return EXIT_OK
    if to_stdout:
        sys.stdout.write(text)
        for line in [f"skipped: {s}" for s in report.skipped] + [
            f"note: {n}" for n in report.notes
        ]:
            sys.stderr.write(line + "\n")
        return EXIT_OK
    write_atomic(Path(args.out), text.encode("utf-8"))
    report.written.append(str(args.out))
    emit(args.json, report.as_dict(), _text(report, "written"))
    return EXIT_OK


IMPORT_HELP = """\
Read prompts from another tool's files into the vault. Each prompt gets a new version
only if its content differs from its latest one (message "import from FILE"); its test
cases are replaced by the file's when they differ. Everything is checked first and
written in one transaction: a bad file changes nothing. What the format holds and the
workbench cannot (e.g. promptfoo's javascript assertions) is printed as "skipped".

  workbench import promptfoo promptfooconfig.yaml --name support/reply \\
      --grader openai:gpt-4o-mini
  workbench import prompty chat.prompty
"""

EXPORT_HELP = """\
Write a prompt's version (default: the latest) and its test cases in another tool's
format, to a file (-o) or standard output. What the format cannot hold (assertions
without a promptfoo kind, a Prompty file's second case, sensitive values) is left out
and printed as "skipped".

  workbench export promptfoo support/reply -o promptfooconfig.yaml \\
      --models openai:gpt-4o-mini,anthropic:claude-3-5-haiku-latest
  workbench export prompty support/reply -o reply.prompty
"""


def _command(
    sub: Sub, name: str, what: str, description: str, parent: argparse.ArgumentParser
) -> argparse.ArgumentParser:
    """One (sub)command whose description keeps its line breaks and examples."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=what,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[parent],
    )
    return parser


def add_parser(sub: Sub, parent: argparse.ArgumentParser) -> None:
    p = _command(
        sub,
        "import",
        "import prompts from a promptfoo configuration or a .prompty file",
        IMPORT_HELP,
        parent,
    )
    isub = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    q = _command(
        isub,
        "promptfoo",
        "a promptfooconfig.yaml: prompts, providers, tests and their assertions",
        IMPORT_HELP,
        parent,
    )
    q.add_argument("file", help="the promptfoo configuration (YAML)")
    q.add_argument(
        "--name",
        help="prompt name (several prompts: NAME/LABEL); default: the config's description",
    )
    q.add_argument(
        "--grader",
        help="PROFILE:MODEL that grades llm-rubric assertions that name no provider",
    )
    q.set_defaults(handler=cmd_import)
    q = _command(
        isub,
        "prompty",
        "a .prompty file: front matter (model, inputs, sample) and role-marked body",
        IMPORT_HELP,
        parent,
    )
    q.add_argument("file", help="the .prompty file")
    q.add_argument("--name", help="prompt name (default: the file's name: field)")
    q.set_defaults(handler=cmd_import)

    p = _command(
        sub,
        "export",
        "write a prompt and its test cases as a promptfoo configuration or .prompty",
        EXPORT_HELP,
        parent,
    )
    esub = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    for name, what in (
        ("promptfoo", "a promptfooconfig.yaml promptfoo can run"),
        ("prompty", "a .prompty file (its sample: the case named sample, else the first)"),
    ):
        q = _command(esub, name, what, EXPORT_HELP, parent)
        q.add_argument("name", help="the prompt, e.g. support/reply")
        q.add_argument(
            "version", nargs="?", default="latest", help="latest (default), vN, a label or an id"
        )
        q.add_argument("--out", "-o", help="file to write (default: standard output)")
        if name == "promptfoo":
            q.add_argument(
                "--models", help="more providers to compare, comma-separated PROFILE:MODEL"
            )
        q.set_defaults(handler=cmd_export, models=None)
