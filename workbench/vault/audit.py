"""The vault's audit log: an append-only chain of events, each hashed with the one
before it, so a changed or removed entry shows.

Functions over a ``Session``: every store appends its event in the transaction of the
change it records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workbench.core.models import AuditEvent, canonical_json, utcnow
from workbench.vault.schema import AuditRow

GENESIS_HASH = "0" * 64


def append(s: Session, actor: str, action: str, subject: str, detail: dict[str, Any]) -> None:
    """Add one event by ``actor`` after the newest one (never a value, only what changed)."""
    prev = s.scalar(select(AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1))
    prev_hash = prev or GENESIS_HASH
    at = utcnow()
    h = AuditEvent.compute_hash(prev_hash, at, actor, action, subject, detail)
    s.add(
        AuditRow(
            at=at,
            actor=actor,
            action=action,
            subject=subject,
            detail=canonical_json(detail).decode("utf-8"),
            prev_hash=prev_hash,
            hash=h,
        )
    )


def events(s: Session, limit: int | None = None) -> list[AuditEvent]:
    q = select(AuditRow).order_by(AuditRow.seq)
    if limit is not None:
        q = q.limit(limit)
    return [
        AuditEvent(
            seq=r.seq,
            at=r.at,
            actor=r.actor,
            action=r.action,
            subject=r.subject,
            detail=json.loads(r.detail),
            prev_hash=r.prev_hash,
            hash=r.hash,
        )
        for r in s.scalars(q)
    ]


def first_broken(chain: Iterable[AuditEvent]) -> int | None:
    """Walk the hash chain; return the seq of the first broken entry, or None if intact."""
    prev = GENESIS_HASH
    for ev in chain:
        expect = AuditEvent.compute_hash(prev, ev.at, ev.actor, ev.action, ev.subject, ev.detail)
        if ev.prev_hash != prev or ev.hash != expect:
            return ev.seq
        prev = ev.hash
    return None
