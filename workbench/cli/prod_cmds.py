"""``workbench prod`` and ``workbench trace``: production, as the registry saw it.

Both ask the registry in the settings (``workbench registry login``), which computes
the figures from the GenAI spans production apps send it (OTLP/HTTP to
``REGISTRY/v1/traces`` with an app token); the words come from
:mod:`workbench.app.production`, shared with the window.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from workbench.cli.output import EXIT_OK, emit

Sub = Any


def cmd_prod(args: argparse.Namespace) -> int:
    from workbench.app.production import parse_since, parse_time, stats_text
    from workbench.cli.sync_cmds import registry_client

    since = parse_since(args.since)
    until = parse_time(args.until, "--until") if args.until else None
    with registry_client() as client:
        stats = client.prod_stats(args.name, since=since, until=until)
    emit(args.json, stats.model_dump(mode="json"), stats_text(stats))
    return EXIT_OK


def cmd_trace(args: argparse.Namespace) -> int:
    from workbench.app.production import parse_time, served_text
    from workbench.cli.sync_cmds import registry_client
    from workbench.core.errors import UsageError

    if args.trace_id is None and args.app is None:
        raise UsageError(
            "say which request: --trace-id ID, or --app APP [--key KEY] [--at TIME]",
            hint="The trace id is the one your app's OpenTelemetry spans carry (32 hex digits).",
        )
    if args.trace_id is not None and (args.app or args.key or args.at):
        raise UsageError(
            "give either --trace-id or --app/--key/--at, not both", hint="Drop one of the two."
        )
    at = parse_time(args.at) if args.at else datetime.now(UTC)
    with registry_client() as client:
        if args.trace_id is not None:
            answer = client.served(trace_id=args.trace_id)
        else:
            answer = client.served(app=args.app, key=args.key, at=at)
    emit(args.json, answer.model_dump(mode="json"), served_text(answer))
    return EXIT_OK


def add_parser(sub: Sub, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "prod",
        parents=[parent],
        help="production figures of a prompt per version and label (from the registry)",
        description="Calls, error rate, p50/p95 latency, TTFT, tokens and cost per version "
        "and label, by app, from the spans production apps send the registry. "
        "Example: workbench prod support/reply --since 7d",
    )
    p.add_argument("name", help="the prompt, e.g. support/reply")
    p.add_argument(
        "--since", default="24h", help="24h, 7d, 2w, a date or an ISO time (default: 24h)"
    )
    p.add_argument("--until", default=None, help="end of the window (default: now)")
    p.set_defaults(handler=cmd_prod)

    t = sub.add_parser(
        "trace",
        parents=[parent],
        help="what served a production request: version, label, model, parameters, cost",
        description="Looks a production call up in the registry by its trace id, or by the "
        "app (its token's user), the caller key it resolved with and a time. Example: "
        "workbench trace --app shop --key user-42 --at 2026-12-04T10:30:00Z",
    )
    t.add_argument("--trace-id", default=None, help="the OpenTelemetry trace id (32 hex)")
    t.add_argument("--app", default=None, help="the app: the registry user of its token")
    t.add_argument("--key", default=None, help="the caller key the app resolved with")
    t.add_argument("--at", default=None, help="when (ISO time, UTC by default; default: now)")
    t.set_defaults(handler=cmd_trace)
