"""The ``workbench`` command.

Bare ``workbench`` launches the desktop app. Subcommands live in modules listed in
``COMMAND_MODULES``; each exposes ``add_parser(subparsers)`` and sets
``handler=(args) -> int`` on its parsers. Heavy imports (Qt, FastAPI) happen
inside handlers, so ``workbench --help`` stays fast and headless.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from workbench import __version__
from workbench.cli.output import EXIT_FAILURE, EXIT_USAGE, to_json
from workbench.core.errors import WorkbenchError
from workbench.core.files import os_problem
from workbench.secrets.redaction import install_redaction, redact

_VAULT = "workbench.cli.vault_cmds"
_REGISTRY, _SYNC = "workbench.cli.registry_cmds", "workbench.cli.sync_cmds"
_SOURCE = "workbench.cli.source_cmds"
COMMANDS: dict[str, str] = {
    "vault": _VAULT,
    **dict.fromkeys(("commit", "doctor", "lint"), "workbench.cli.authoring_cmds"),
    "compare": "workbench.cli.compare_cmds",
    "eval": "workbench.cli.eval_cmds",
    **dict.fromkeys(("key", "provider"), "workbench.cli.provider_cmds"),
    **dict.fromkeys(("cases", "runs"), "workbench.cli.runs_cmds"),
    **dict.fromkeys(("budget", "costs", "log"), "workbench.cli.spend_cmds"),
    **dict.fromkeys(("import", "export"), "workbench.cli.interchange_cmds"),
    "registry": _REGISTRY,
    "source": _SOURCE,
    **dict.fromkeys(("labels", "publish"), _SYNC),
    "review": "workbench.cli.review_cmds",
    "sync": _SYNC,
    **dict.fromkeys(("prod", "trace"), "workbench.cli.prod_cmds"),
}
"""Each top-level command and the module that adds it (a test holds this to what the
modules add). A command's run builds only its own module's parser: importing every
command module cost a commit ~30 ms of modules it never uses (asyncio among them)."""
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))


UNRECOGNIZED = "unrecognized arguments: "


def usage_message(message: str) -> str:
    """argparse's error, safe to print: it echoes extra arguments, and an extra value
    may be a secret (``workbench key set k1 sk-...``) headed for a terminal or a CI
    log. Options (``--bogus``) are named; values are counted, never shown."""
    if not message.startswith(UNRECOGNIZED):
        return redact(message)
    extra = message[len(UNRECOGNIZED) :].split()
    options = [a for a in extra if a.startswith("-")]
    values = len(extra) - len(options)
    parts = [f"unrecognized option{'s' if len(options) != 1 else ''} {' '.join(options)}"]
    if not options:
        parts = []
    if values:
        parts.append(
            f"{values} unexpected value{'s' if values != 1 else ''} (not shown: a value "
            "may be a secret)"
        )
    return redact("; ".join(parts))


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"workbench: error: {usage_message(message)}\n")
        sys.exit(EXIT_USAGE)


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand accepts (``--vault``, ``--json``)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--vault",
        type=Path,
        default=argparse.SUPPRESS,  # so 'workbench --vault X vault list' keeps X
        help="vault file (default: the platform data directory's vault.sqlite3)",
    )
    # SUPPRESS, as for --vault: given at the group ('vault --json list') or the command
    # ('vault list --json'), a lower parser's default must not reset it to False.
    parent.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
    )
    return parent


def command_in(argv: list[str]) -> str | None:
    """The top-level command ``argv`` names (its first word that is not an option or
    the value of ``--vault``), or None."""
    words = iter(argv)
    for word in words:
        if word == "--vault":
            next(words, None)
        elif word == "--":
            return next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``only`` naming a known command, just that command's
    module's part (what a run of that command needs; help and errors elsewhere still
    see every command)."""
    parser = _Parser(
        prog="workbench",
        description="Prompt Workbench: version, compare, review and publish LLM prompts.",
        epilog="Run without a command to open the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    parser.add_argument("--vault", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.set_defaults(json=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    parent = common_options()
    modules = (COMMANDS[only],) if only in COMMANDS else COMMAND_MODULES
    for name in modules:  # all part of the package: a missing one is a build bug
        importlib.import_module(name).add_parser(sub, parent)
    return parser


def main(
    argv: list[str] | None = None, launch_gui: Callable[[Path | None], int] | None = None
) -> int:
    """Run a subcommand; with none, call ``launch_gui`` (given by ``workbench.entry``)."""
    parser = build_parser(command_in(sys.argv[1:] if argv is None else argv))
    args, extra = parser.parse_known_args(argv)
    if extra:
        hint = ""
        if args.command == "key" and any(not a.startswith("-") for a in extra):
            hint = "; `workbench key set NAME` asks for the key, or reads it from stdin"
        parser.print_usage(sys.stderr)
        sys.stderr.write(
            f"workbench: error: {usage_message(UNRECOGNIZED + ' '.join(extra))}{hint}\n"
        )
        return EXIT_USAGE
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    install_redaction()
    handler = getattr(args, "handler", None)
    if handler is None:
        if args.command is None and launch_gui is not None:
            return launch_gui(args.vault)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        parser.parse_args([args.command, "--help"])
        return EXIT_USAGE
    try:
        try:
            return int(handler(args))
        except OSError as exc:  # a path or disk a person can fix is not a bug
            problem = None if isinstance(exc, BrokenPipeError) else os_problem(exc)
            if problem is None:
                raise
            raise problem from exc
    except WorkbenchError as err:
        if getattr(args, "json", False):
            sys.stdout.write(
                to_json(
                    {
                        "error": type(err).__name__,
                        "detail": redact(err.message),
                        "hint": redact(err.hint),
                    }
                )
                + "\n"
            )
        # Defence in depth: no message a person sees may carry a key or token.
        sys.stderr.write(f"error: {redact(err.describe())}\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_FAILURE
    except Exception as exc:  # a bug: say so plainly, keys redacted, details with -v
        import traceback

        detail = "".join(traceback.format_exception(exc)) if args.verbose else f"{exc!r}\n"
        sys.stderr.write(
            "error: an unexpected problem (a bug in Prompt Workbench; please report it).\n"
            + redact(detail)
            + ("" if args.verbose else "Run again with -v for the full traceback.\n")
        )
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
