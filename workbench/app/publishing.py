"""Publishing, one flow for ``workbench publish`` and the window's Publish dialog.

Both ask the registry where the label points (the move is a compare-and-swap against
exactly that) and who approved the version (the registry, not the mirror: approvals
given since the last sync count, as the server counts them), take the same canary
rule (1-99 % of callers, by caller key), show the same Langfuse warnings, and sync
after the move so the vault mirrors it. The CLI also syncs before (a one-shot process
has no sync loop); the window's sync loop keeps its vault current and runs a round
when the dialog reports the move.

Offline, :func:`mirrored_context` is the label as of the last sync: enough to look,
not to move (a move needs the registry).
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.core.errors import NotFoundError, UsageError
from workbench.core.models import LabelEvent, PromptVersion
from workbench.registry.client import RegistryClient
from workbench.registry.errors import PermissionDeniedError
from workbench.registry.review import current_label, label_history, langfuse_warning, publish
from workbench.registry.schemas import CanaryGuards, LabelState
from workbench.registry.sync import Syncer, label_event, wire_label
from workbench.vault import Vault

CANARY_PERCENT_DEFAULT = 10


@dataclass(frozen=True)
class LabelContext:
    """What the registry says about one label of the prompt, fetched together; or,
    ``offline``, what the vault mirrored of it at the last sync."""

    label: str
    current: LabelState | None
    history: list[LabelEvent]
    offline: bool = False
    production: tuple[str, ...] = ()
    """What the label's versions did in production over the last 24 h, one line each
    (``production v3: 12,400 calls, p95 1.2 s, $4.10/day``); empty offline or when
    nothing was called."""
    halt: str | None = None
    """What the registry says when it halted the label's canary by itself."""


def fetch_context(client: RegistryClient, prompt: str, label: str) -> LabelContext:
    """Where ``label`` points now, how it moved, and how its versions do in production,
    asked of the registry."""
    from workbench.app.production import halt_text, version_line

    moves = [label_event(e) for e in label_history(client, prompt)]
    current = current_label(client, prompt, label)
    try:
        stats = client.prod_stats(prompt)
    except (NotFoundError, PermissionDeniedError):  # a registry without telemetry
        lines: tuple[str, ...] = ()
    else:
        lines = tuple(version_line(row) for row in stats.rows if row.label == label)
    return LabelContext(
        label,
        current,
        [m for m in moves if m is not None],
        production=lines,
        halt=halt_text(current) if current is not None else None,
    )


def mirrored_context(vault: Vault, prompt: str, label: str) -> LabelContext:
    """The label as of the last sync, from the vault (works with no registry)."""
    current = None
    for lab in vault.labels(prompt):
        if lab.name == label and lab.source == "registry":
            current = wire_label(lab)
    history = [e for e in vault.label_history(prompt) if e.source == "registry"]
    return LabelContext(label, current, history, offline=True)


def approved_by(client: RegistryClient, version: PromptVersion) -> list[str]:
    """Who approved ``version``, asked of the registry (sorted, each name once)."""
    return sorted({r.reviewer for r in client.reviews(version.id) if r.decision == "approve"})


def check_canary(
    version: PromptVersion, canary: PromptVersion | None, percent: int | None
) -> int | None:
    """The canary's share of callers (None without a canary); a clear error for a
    share outside 1-99 or a canary that is the version itself."""
    if canary is None:
        return None
    share = CANARY_PERCENT_DEFAULT if percent is None else percent
    if not 1 <= share <= 99:
        raise UsageError(
            f"a canary takes 1 to 99 percent of callers, not {share}",
            hint="e.g. 10: the canary serves one caller key in ten, the version the rest.",
        )
    if canary.id == version.id:
        raise UsageError(
            f"the canary {canary.display_number} is the version being published",
            hint="Choose another version as the canary, or publish without one.",
        )
    return share


def publish_warnings(version: PromptVersion, canary: PromptVersion | None) -> list[str]:
    """What the publisher should know before the move (the CLI prints it, the dialog
    shows it)."""
    return [w for v in (version, canary) if v is not None if (w := langfuse_warning(v))]


def publish_version(
    vault: Vault,
    client: RegistryClient,
    version: PromptVersion,
    label: str,
    *,
    expected: LabelState | None,
    reason: str,
    canary: PromptVersion | None = None,
    canary_percent: int | None = None,
    canary_guards: CanaryGuards | None = None,
    sync_after: bool = True,
) -> LabelState:
    """Move ``label`` onto ``version`` (with an optional canary, optionally with guard
    rails the registry halts it by) if it still points at ``expected``; then, with
    ``sync_after``, sync so the vault mirrors the move."""
    if not reason.strip():
        raise UsageError("say why you publish", hint="Write a reason; it goes into the audit log.")
    if canary_guards is not None and canary is None:
        raise UsageError(
            "guard rails need a canary to guard",
            hint="Add --canary VERSION, or drop the --max-* options.",
        )
    share = check_canary(version, canary, canary_percent)
    from workbench.app.identity import known_role
    from workbench.app.sources import check_publish
    from workbench.settings import load_settings

    role = known_role(load_settings())
    for published in (version, canary):  # bindings outside an allow-list: refused here
        if published is not None:
            check_publish(vault, published, role)
    state = publish(
        client, version, label, expected=expected, reason=reason,
        canary=canary, canary_percent=share, canary_guards=canary_guards,
    )  # fmt: skip
    if sync_after:
        Syncer(vault, client).sync()
    return state
