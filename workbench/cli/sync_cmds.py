"""``workbench registry login``, ``sync``, ``publish``, ``labels``: the team side (``review``
is in :mod:`workbench.cli.review_cmds`)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from workbench.app.connection import TOKEN_ENV
from workbench.cli.output import EXIT_FAILURE, EXIT_OK, emit, table
from workbench.cli.vault_cmds import open_vault
from workbench.core.errors import UsageError

if TYPE_CHECKING:
    pass

Sub = Any


def _read_token(prompt: str) -> str:
    token = getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline().strip()
    if not token:
        raise UsageError(
            "no token given",
            hint="Ask a registry admin for one: workbench registry user add NAME --role ...",
        )
    return token


@contextmanager
def registry_client() -> Iterator[Any]:
    """A client for the registry in the settings (:class:`RegistryConnection`: the
    token from the keychain, or WORKBENCH_REGISTRY_TOKEN for CI; never persisted)."""
    from workbench.app.connection import RegistryConnection

    with RegistryConnection.from_settings(front_end="cli").open() as client:
        yield client


def cmd_login(args: argparse.Namespace) -> int:
    from workbench.registry.client import RegistryClient
    from workbench.registry.sync import token_key_name
    from workbench.secrets.keyring_store import KeyringStore
    from workbench.settings import load_settings, save_settings

    url = args.url.rstrip("/")
    token = os.environ.get(TOKEN_ENV) or _read_token(f"token for {url} (input hidden): ")
    with RegistryClient(url, token) as client:
        me = client.whoami()
    store = KeyringStore()
    store.set(token_key_name(url), token)
    settings = load_settings()
    settings.registry_url, settings.registry_user = url, me.name
    settings.registry_role = me.role
    save_settings(settings)
    emit(
        args.json,
        {"url": url, "user": me.name, "role": me.role},
        f"logged in to {url} as {me.name} ({me.role}); the token is in the keychain",
    )
    return EXIT_OK


def cmd_sync(args: argparse.Namespace) -> int:
    from workbench.registry.sync import Syncer
    from workbench.vault.sync_store import SyncStore

    with open_vault(args) as vault, registry_client() as client:
        report = Syncer(vault, client).sync()
        statuses = SyncStore(vault).statuses()
    forked = sorted(n for n, s in statuses.items() if s == "forked")
    text = report.summary()
    if forked:
        text += "\nforked (two versions share a parent; continue from either): " + ", ".join(forked)
    emit(args.json, {**report.__dict__, "forked": forked}, text)
    return EXIT_FAILURE if report.rejected else EXIT_OK


def _version_ref(text: str) -> str:
    """``3`` means v3; anything else (vN, a label, an id) is taken as it is."""
    return f"v{text}" if text.isdigit() else text


def cmd_publish(args: argparse.Namespace) -> int:
    from workbench.app.production import guards_from
    from workbench.app.publishing import (
        approved_by,
        check_canary,
        fetch_context,
        publish_version,
        publish_warnings,
    )
    from workbench.app.suite_review import suite_review
    from workbench.core.diff_views import unified_diff_text
    from workbench.registry.sync import Syncer

    guards = guards_from(
        max_error_rate=args.max_error_rate,
        max_error_rate_over_stable=args.max_error_rate_over_stable,
        max_p95_ms=args.max_p95_ms,
        max_p95_ratio=args.max_p95_ratio,
        max_cost_per_call=args.max_cost_per_call,
        max_cost_ratio=args.max_cost_ratio,
        min_calls=args.min_calls,
    )
    if guards is not None and not args.canary:
        raise UsageError(
            "guard rails need a canary to guard", hint="Add --canary VERSION, or drop --max-*."
        )
    with open_vault(args) as vault, registry_client() as client:
        Syncer(vault, client).sync()  # a one-shot process: be current first
        version = vault.get_version(args.name, _version_ref(args.version))
        suite_lines = suite_review(vault, args.name, args.label).lines()
        canary = vault.get_version(args.name, _version_ref(args.canary)) if args.canary else None
        share = check_canary(version, canary, args.percent)
        warnings = publish_warnings(version, canary)
        current = fetch_context(client, args.name, args.label).current
        approvals = approved_by(client, version)
        before = ""
        if current is not None:
            old = vault.version_by_id(current.target.version_id)
            before = unified_diff_text(
                old.content, version.content, old.display_number, version.display_number
            )
        state = publish_version(
            vault, client, version, args.label, expected=current, reason=args.reason,
            canary=canary, canary_percent=share, canary_guards=guards,
        )  # fmt: skip
    lines = [
        f"{args.name}@{args.label} -> {version.display_number} (was "
        f"{'nothing' if current is None else current.target.version_id.hex[:8]})",
        f"approved by: {', '.join(approvals) or 'nobody'}",
        *suite_lines,
        *(
            [f"canary: {canary.display_number} serves {share}% of callers (by caller key)"]
            if canary is not None
            else []
        ),
        *([f"guards: {_guards_text(guards)}"] if guards is not None else []),
        f"reason: {args.reason}",
    ]
    if before:
        lines += ["", before]
    for warning in warnings:
        print(warning, file=sys.stderr)
    emit(args.json, {**state.model_dump(mode="json"), "warnings": warnings}, "\n".join(lines))
    return EXIT_OK


def _guards_text(guards: Any) -> str:
    parts = []
    if guards.max_error_rate is not None:
        parts.append(f"error rate <= {guards.max_error_rate * 100:g}%")
    if guards.max_error_rate_over_stable is not None:
        parts.append(f"error rate <= stable + {guards.max_error_rate_over_stable * 100:g} points")
    if guards.max_p95_ms is not None:
        parts.append(f"p95 <= {guards.max_p95_ms:g} ms")
    if guards.max_p95_ratio is not None:
        parts.append(f"p95 <= {guards.max_p95_ratio:g}x stable")
    if guards.max_cost_per_call_usd is not None:
        parts.append(f"cost/call <= ${guards.max_cost_per_call_usd:g}")
    if guards.max_cost_ratio is not None:
        parts.append(f"cost/call <= {guards.max_cost_ratio:g}x stable")
    return (
        ", ".join(parts)
        + f"; judged from {guards.min_calls} canary calls; crossed: the registry rolls back"
    )


def cmd_labels(args: argparse.Namespace) -> int:
    from workbench.app.production import halt_text
    from workbench.registry.errors import RegistryUnavailableError
    from workbench.vault.sync_store import SyncStore

    halts: list[str] = []
    with open_vault(args) as vault:
        try:
            with registry_client() as client:
                from workbench.registry.sync import Syncer

                Syncer(vault, client).sync()  # mirrors the labels and their history
                online = True
                # A canary the registry halted by itself: said with its reason (the
                # vault mirrors where labels point, not why).
                halts = [t for lab in client.prompt(args.name).labels if (t := halt_text(lab))]
        except RegistryUnavailableError:
            online = False
        from workbench.registry.sync import wire_label

        labels = [
            wire_label(lab).model_dump(mode="json")
            for lab in SyncStore(vault).registry_labels(args.name)
        ]
        numbers = {str(v.id): v.display_number for v in vault.history(args.name)}
        history = [
            e.model_dump(mode="json")
            for e in vault.label_history(args.name)
            if e.source == "registry"
        ]

    def number(version_id: str) -> str:
        return numbers.get(version_id, version_id[:8])

    def canary_text(target: dict[str, Any]) -> str:
        canary = target.get("canary")
        if not canary:
            return "-"
        return f"{number(str(canary['version_id']))} for {canary['percent']}% of callers"

    rows = [
        [
            lab["name"],
            number(lab["target"]["version_id"]),
            canary_text(lab["target"]),
            lab["updated_by"],
            lab["updated_at"][:16].replace("T", " "),
        ]
        for lab in labels
    ]
    text = (
        table(["LABEL", "VERSION", "CANARY", "BY", "AT"], rows)
        if rows
        else "no labels in the registry"
    )
    if history:
        text += "\n\nhistory:\n" + "\n".join(
            f"  {h['at'][:16]}  {h['actor']}: {h['label']} → "
            f"{numbers.get(str(h['to_version_id']), 'gone') if h['to_version_id'] else 'removed'}"
            + (f" (canary {h['canary_percent']}%)" if h["canary_percent"] else "")
            + (f": {h['reason']}" if h["reason"] else "")
            for h in history
        )
    if halts:
        text += "\n\n" + "\n".join(halts)
    if not online:
        text += "\n(offline: labels as of the last sync)"
    emit(
        args.json,
        {"labels": labels, "history": history, "online": online, "halted": halts},
        text,
    )
    return EXIT_OK


def add_login_parser(rsub: Any, parent: argparse.ArgumentParser) -> None:
    p = rsub.add_parser(
        "login",
        parents=[parent],
        help="connect to a team registry (the token goes to the keychain)",
    )
    p.add_argument("url")
    p.set_defaults(handler=cmd_login)


GUARD_RAILS: tuple[tuple[str, type[float] | type[int], str, str], ...] = (
    ("--max-error-rate", float, "FRACTION", "e.g. 0.05: at most 5%% of canary calls may fail"),
    (
        "--max-error-rate-over-stable",
        float,
        "FRACTION",
        "e.g. 0.02: at most 2 points above the stable version's rate",
    ),
    ("--max-p95-ms", float, "MS", "p95 latency limit"),
    ("--max-p95-ratio", float, "X", "e.g. 1.5: p95 at most 1.5x the stable version's"),
    ("--max-cost-per-call", float, "USD", "cost per call limit"),
    ("--max-cost-ratio", float, "X", "cost per call at most X times the stable version's"),
    ("--min-calls", int, "N", "canary calls before anything is judged (default 50)"),
)
"""publish's canary guard rails: flag, type, metavar, help."""


def add_parser(sub: Sub, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "sync", help="push local versions and decisions, pull the team's", parents=[parent]
    )
    p.set_defaults(handler=cmd_sync)

    p = sub.add_parser("publish", help="move a registry label onto a version", parents=[parent])
    p.add_argument("name")
    p.add_argument("--version", required=True, help="N, vN or a version id")
    p.add_argument("--label", default="production", help="the label to move (production)")
    p.add_argument("--reason", required=True, help="why: it goes into the audit log")
    p.add_argument(
        "--canary", metavar="VERSION",
        help="also serve this (approved) version to some callers; publish without it to end",
    )  # fmt: skip
    p.add_argument("--percent", type=int, default=10, help="the canary's share of callers")
    guard = p.add_argument_group(
        "canary guard rails",
        "the registry watches the canary's production spans and, when one limit is crossed, "
        "moves the label back to --version by itself (audited, shown by 'labels')",
    )
    for flag, kind, metavar, what in GUARD_RAILS:
        guard.add_argument(flag, type=kind, metavar=metavar, help=what)
    p.set_defaults(handler=cmd_publish)

    p = sub.add_parser(
        "labels", help="a prompt's registry labels and their history", parents=[parent]
    )
    p.add_argument("name")
    p.set_defaults(handler=cmd_labels)
