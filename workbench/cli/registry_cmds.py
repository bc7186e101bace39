"""``workbench registry ...``: run the team registry and administer its database.

``serve`` runs the server; ``user``, ``token`` and ``audit`` act directly on the
registry database named by ``--db`` (default: the SQLite file ``serve`` uses), so an
admin needs no token to bootstrap the first user. The server package (FastAPI,
uvicorn, SQLAlchemy) is imported inside the handlers only.

The client-side commands (``registry login``, ``sync``, ``review``, ``publish``,
``labels``) live elsewhere.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from workbench.cli.output import EXIT_FAILURE, EXIT_OK, emit, table
from workbench.core.errors import UsageError

ROLES = ("app", "author", "reviewer", "publisher", "admin")


def _db_url(args: argparse.Namespace) -> str:
    from workbench.registry.server.db import default_db_url

    url: str = args.db or default_db_url()
    return url


@contextmanager
def _service(args: argparse.Namespace) -> Iterator[Any]:
    """The registry service over ``--db``; its connections close when the command is done."""
    from workbench.registry.server.config import RegistrySettings
    from workbench.registry.server.db import open_database
    from workbench.registry.server.service import RegistryService

    url = _db_url(args)
    service = RegistryService(open_database(url), RegistrySettings(db_url=url))
    try:
        yield service
    finally:
        service.db.dispose()


def _expiry(days: float | None) -> Any:
    from datetime import timedelta

    if days is None:
        return None
    if days <= 0:
        raise UsageError("--expires-in-days must be positive", hint="E.g. --expires-in-days 90.")
    return timedelta(days=days)


def _serve(args: argparse.Namespace) -> int:
    try:
        # Loaded by name: the CLI layer must not depend on FastAPI, even lazily
        # through a static import (the import-linter contract follows those).
        serving = importlib.import_module("workbench.registry.server.serving")
    except ImportError as exc:
        raise UsageError(
            f"the registry server is not installed ({exc.name} is missing)",
            hint="Install the server extra: pip install 'prompt-workbench[server]'.",
        ) from exc
    settings = settings_from_args(args)
    print(startup_banner(args, settings), flush=True)
    if settings.unprotect_production:
        print(
            "WARNING: --dangerously-unprotect-production: 'production' moves without review",
            file=sys.stderr,
            flush=True,
        )
    serving.serve(
        settings,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=args.access_log,
    )
    return EXIT_OK


def settings_from_args(args: argparse.Namespace) -> Any:
    """The ``RegistrySettings`` that ``registry serve`` runs with: production is always
    protected; each ``--protected`` adds a label; only the dangerous flag removes it."""
    from workbench.registry.server.config import RegistrySettings

    try:
        return RegistrySettings(
            db_url=_db_url(args),
            protected_labels=frozenset(args.protected or ()),
            require_eval_evidence=args.require_evidence,
            unprotect_production=args.dangerously_unprotect_production,
            span_retention_days=args.span_retention_days,
        )
    except ValueError as exc:
        raise UsageError(str(exc), hint="E.g. --protected staging") from exc


def startup_banner(args: argparse.Namespace, settings: Any) -> str:
    """What ``registry serve`` prints first: where, on what, and the effective protection."""
    return (
        f"registry on http://{args.host}:{args.port}  database: {_safe_url(settings.db_url)}  "
        f"workers: {args.workers}\n{settings.describe_protection()}"
    )


def _safe_url(url: str) -> str:
    """The URL without any password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _prompt_list(text: str | None) -> list[str] | None:
    return None if text is None else [p for p in text.split(",") if p.strip()]


def _user_add(args: argparse.Namespace) -> int:
    prompts = _prompt_list(args.prompts)
    with _service(args) as service:
        token = service.add_user(
            args.name, args.role, expires_in=_expiry(args.expires_in_days), prompts=prompts
        )
    scope = f", may read only {', '.join(prompts)}" if prompts else ""
    emit(
        args.json,
        {"name": args.name, "role": args.role, "prompts": prompts, "token": token},
        f"created {args.name} ({args.role}{scope})\ntoken (shown once; store it now): {token}",
    )
    return EXIT_OK


def _user_scope(args: argparse.Namespace) -> int:
    if (args.prompts is None) == (not args.all):
        raise UsageError(
            "give --prompts NAMES or --all", hint="e.g. --prompts support/,billing/reply"
        )
    prompts = None if args.all else _prompt_list(args.prompts)
    with _service(args) as service:
        service.set_prompt_scope(args.name, prompts)
    text = f"{args.name} may read " + (", ".join(prompts) if prompts else "every prompt")
    emit(args.json, {"name": args.name, "prompts": prompts}, text)
    return EXIT_OK


def _token_rotate(args: argparse.Namespace) -> int:
    with _service(args) as service:
        token = service.rotate_token(args.name, expires_in=_expiry(args.expires_in_days))
    emit(
        args.json,
        {"name": args.name, "token": token},
        f"new token for {args.name} (the old one no longer works; shown once): {token}",
    )
    return EXIT_OK


def _user_disable(args: argparse.Namespace) -> int:
    with _service(args) as service:
        service.disable_user(args.name)
    emit(args.json, {"name": args.name, "disabled": True}, f"disabled {args.name}")
    return EXIT_OK


def _user_list(args: argparse.Namespace) -> int:
    with _service(args) as service:
        users = service.users()
    emit(
        args.json,
        [{"name": n, "role": r, "disabled": d} for n, r, d in users],
        lambda: table(
            ["NAME", "ROLE", "STATUS"],
            [[n, r, "disabled" if d else "active"] for n, r, d in users],
        ),
    )
    return EXIT_OK


def _audit_verify(args: argparse.Namespace) -> int:
    with _service(args) as service:
        report = service.verify_audit()
    text = (
        f"audit chain intact: {report.entries} entries"
        if report.ok
        else "audit chain BROKEN:\n" + "\n".join(f"  - {p}" for p in report.problems)
    )
    emit(args.json, report, text)
    return EXIT_OK if report.ok else EXIT_FAILURE


def _folder(text: str) -> str:
    """``/`` (every prompt) or a folder such as ``support``."""
    return "" if text.strip() in ("/", "") else text.strip("/")


def _policy_set(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from workbench.core.runs import ModelRef
    from workbench.registry.schemas import FolderPolicy

    try:
        models = tuple(str(ModelRef.parse(m)) for m in args.model or ())
        policy = FolderPolicy(
            folder=_folder(args.folder),
            required_models=models,
            min_pass_rate=args.min_pass_rate,
            max_p95_ms=args.max_p95_ms,
            max_cost_usd=args.max_cost_usd,
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'policy'}: {e['msg']}" for e in exc.errors()
        )
        raise UsageError(
            f"invalid policy: {problems}",
            hint="E.g. policy set support --model openai:gpt-4o-mini --min-pass-rate 0.95",
        ) from None
    except ValueError as exc:
        raise UsageError(
            f"invalid policy: {exc}",
            hint="E.g. policy set support --model openai:gpt-4o-mini --min-pass-rate 0.95",
        ) from None
    with _service(args) as service:
        service.suites.set_policy(policy)
    emit(args.json, policy, f"policy set: {policy.describe()}")
    return EXIT_OK


def _policy_list(args: argparse.Namespace) -> int:
    with _service(args) as service:
        policies = service.suites.policies()
    emit(
        args.json,
        policies,
        lambda: (
            "\n".join(p.describe() for p in policies)
            or "no evidence policy (any finished run of the version and suite counts)"
        ),
    )
    return EXIT_OK


def _policy_clear(args: argparse.Namespace) -> int:
    with _service(args) as service:
        cleared = service.suites.clear_policy(_folder(args.folder))
    if not cleared:
        raise UsageError(
            f"no policy for {args.folder!r}", hint="See them with: workbench registry policy list"
        )
    emit(args.json, {"folder": _folder(args.folder), "cleared": True}, f"cleared {args.folder}")
    return EXIT_OK


def _add_policy_parser(rsub: Any, parent: argparse.ArgumentParser, db: Any) -> None:
    policy = rsub.add_parser(
        "policy",
        parents=[parent],
        help="what eval evidence must show per folder (models, pass rate, p95, cost)",
    )
    psub = policy.add_subparsers(dest="policy_command", metavar="COMMAND")
    p = psub.add_parser(
        "set",
        parents=[parent, db],
        help="set a folder's policy: evidence must have run every case on --model, and "
        "(with serve --require-evidence) pass and stay within the budgets to publish",
    )
    p.add_argument("folder", help="a folder such as 'support' (its prompts), or / for all")
    p.add_argument(
        "--model", action="append", metavar="PROFILE:MODEL",
        help="a model every case must have run on (repeatable)",
    )  # fmt: skip
    p.add_argument("--min-pass-rate", type=float, metavar="RATE", help="0 to 1, e.g. 0.95")
    p.add_argument("--max-p95-ms", type=float, metavar="MS", help="p95 latency budget")
    p.add_argument("--max-cost-usd", type=float, metavar="USD", help="the run's cost budget")
    p.set_defaults(handler=_policy_set)
    p = psub.add_parser("list", parents=[parent, db], help="list the policies")
    p.set_defaults(handler=_policy_list)
    p = psub.add_parser("clear", parents=[parent, db], help="remove a folder's policy")
    p.add_argument("folder")
    p.set_defaults(handler=_policy_clear)


def add_parser(sub: Any, parent: argparse.ArgumentParser) -> None:
    db_parent = argparse.ArgumentParser(add_help=False)
    db_parent.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="registry database (default: registry.sqlite3 in the platform data directory)",
    )
    registry = sub.add_parser(
        "registry", parents=[parent], help="run and administer the team registry"
    )
    rsub = registry.add_subparsers(dest="registry_command", metavar="COMMAND")

    serve = rsub.add_parser("serve", parents=[parent, db_parent], help="run the registry server")
    serve.add_argument(
        "--host", default="127.0.0.1",
        help="address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface)",
    )  # fmt: skip
    serve.add_argument("--port", type=int, default=8765, help="TCP port (8765)")
    serve.add_argument(
        "--protected",
        action="append",
        metavar="LABEL",
        help="also protect LABEL (repeatable); production is always protected",
    )
    serve.add_argument(
        "--dangerously-unprotect-production",
        action="store_true",
        help="take 'production' out of the protected set: anyone may move it onto any "
        "version, unreviewed (logged at start)",
    )
    serve.add_argument(
        "--require-evidence",
        action="store_true",
        help="publishing to a protected label also needs an approval whose eval evidence "
        "ran the prompt's current suite and meets the folder's policy (registry policy)",
    )
    serve.add_argument("--access-log", action="store_true", help="log one line per request")
    serve.add_argument(
        "--span-retention-days", type=int, default=30, metavar="DAYS",
        help="keep raw production spans this long (30; 0: forever); hourly rollups stay",
    )  # fmt: skip
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes on one database (stateless; 1-2 per CPU core)",
    )
    serve.set_defaults(handler=_serve)

    user = rsub.add_parser("user", parents=[parent], help="manage registry users")
    usub = user.add_subparsers(dest="user_command", metavar="COMMAND")
    add = usub.add_parser(
        "add", parents=[parent, db_parent], help="add a user; prints the token once"
    )
    add.add_argument("name")
    add.add_argument(
        "--role", required=True, choices=ROLES,
        help="what the user may do: app < author < reviewer < publisher < admin "
        "(app: a production app that reads prompts and sends telemetry)",
    )  # fmt: skip
    add.add_argument(
        "--expires-in-days", type=float, default=None, metavar="DAYS",
        help="the token stops working after this many days (default: never)",
    )  # fmt: skip
    add.add_argument(
        "--prompts", default=None, metavar="NAMES",
        help="app tokens only: the prompts it may read, comma-separated names or folders "
        "ending in '/' (default: every prompt)",
    )  # fmt: skip
    add.set_defaults(handler=_user_add)
    scope = usub.add_parser(
        "scope", parents=[parent, db_parent], help="set which prompts an app token may read"
    )
    scope.add_argument("name")
    scope.add_argument("--prompts", default=None, metavar="NAMES",
                       help="comma-separated names or folders ending in '/'")  # fmt: skip
    scope.add_argument("--all", action="store_true", help="every prompt")
    scope.set_defaults(handler=_user_scope)
    disable = usub.add_parser("disable", parents=[parent, db_parent], help="disable a user")
    disable.add_argument("name")
    disable.set_defaults(handler=_user_disable)
    listing = usub.add_parser("list", parents=[parent, db_parent], help="list users")
    listing.set_defaults(handler=_user_list)

    token = rsub.add_parser("token", parents=[parent], help="manage tokens")
    tsub = token.add_subparsers(dest="token_command", metavar="COMMAND")
    rotate = tsub.add_parser(
        "rotate", parents=[parent, db_parent], help="replace a user's token; prints it once"
    )
    rotate.add_argument("name")
    rotate.add_argument(
        "--expires-in-days", type=float, default=None, metavar="DAYS",
        help="the new token stops working after this many days (default: never)",
    )  # fmt: skip
    rotate.set_defaults(handler=_token_rotate)

    audit = rsub.add_parser("audit", parents=[parent], help="the audit log")
    asub = audit.add_subparsers(dest="audit_command", metavar="COMMAND")
    verify = asub.add_parser(
        "verify", parents=[parent, db_parent], help="check the audit hash chain"
    )
    verify.set_defaults(handler=_audit_verify)

    _add_policy_parser(rsub, parent, db_parent)

    from workbench.cli.sync_cmds import add_login_parser

    add_login_parser(rsub, parent)
