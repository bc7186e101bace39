"""Canary guard rails: after an ingest, judge every guarded canary its spans touched
and halt (roll back to the stable version) the ones that cross a limit, in the
ingest's own transaction, audited."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.registry.schemas import CanaryGuards, CanaryHalt
from workbench.registry.server import repository as repo
from workbench.registry.server.guards import judge
from workbench.registry.server.rollups import Figures, summed
from workbench.registry.server.tables import (
    LabelRow,
    PromptRow,
    VersionRow,
)

log = logging.getLogger("workbench.registry.telemetry")
HALT_ACTOR = "registry"


def halt_crossed_canaries(
    session: Session, touched: list[tuple[str, str]], now: datetime
) -> list[str]:
    """Judge every guarded canary these spans touched; halt those that cross a limit."""
    halted: list[str] = []
    for prompt, label in touched:
        row = session.execute(
            select(LabelRow)
            .join(PromptRow, PromptRow.id == LabelRow.prompt_id)
            .where(PromptRow.name == prompt, LabelRow.name == label)
        ).scalar_one_or_none()
        if row is None or row.canary_version_id is None or not row.canary_guards:
            continue
        verdict_args = _judge(session, prompt, row)
        if verdict_args is None:
            continue
        verdict, canary_number = verdict_args
        # Take the writers' lock, then read the label again: halt only the canary that
        # was judged (a publisher may have moved it meanwhile).
        head = repo.lock_head(session)
        session.refresh(row, with_for_update=True)
        if row.canary_version_id is None or not row.canary_guards:
            continue
        canary_id = row.canary_version_id
        before = repo.target_of(row)
        halt = CanaryHalt(
            at=now,
            canary_version_id=canary_id,
            canary_number=canary_number,
            reason=verdict.reason,
            evidence=verdict.evidence,
        )
        row.canary_version_id = None
        row.canary_percent = 0
        row.canary_guards = None
        row.halted = halt.model_dump_json()
        row.updated_at = now
        row.updated_by = HALT_ACTOR
        session.flush()
        repo.add_change(session, head, kind="label", prompt=prompt, ref=str(row.id), at=now)
        repo.append_audit(
            session,
            head,
            at=now,
            actor=HALT_ACTOR,
            action="label.canary_halt",
            subject=f"prompt:{prompt}",
            detail={
                "label": label,
                "from": before.model_dump(mode="json"),
                "to": repo.target_of(row).model_dump(mode="json"),
                "canary_number": canary_number,
                "reason": verdict.reason,
                "evidence": verdict.evidence,
            },
        )
        log.warning("canary of %s@%s halted: %s", prompt, label, verdict.reason)
        halted.append(f"{prompt}@{label}")
    return halted


def _judge(session: Session, prompt: str, row: LabelRow) -> Any:
    guards = CanaryGuards.model_validate_json(row.canary_guards or "{}")
    numbers = dict(
        session.execute(
            select(VersionRow.id, VersionRow.number).where(
                VersionRow.id.in_([row.version_id, row.canary_version_id])
            )
        ).all()
    )
    assert row.canary_version_id is not None
    stable_no, canary_no = numbers[row.version_id], numbers[row.canary_version_id]
    since = row.updated_at
    canary, stable = Figures(), Figures()
    for number, _label, _app, _first, figures in summed(
        session, prompt, since, versions=[stable_no, canary_no], label=row.name
    ):
        (canary if number == canary_no else stable).add(figures)
    verdict = judge(guards, canary, stable)
    return None if verdict is None else (verdict, canary_no)
