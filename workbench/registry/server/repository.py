"""All SQL of the registry. Functions take an open ``Session`` and never commit:
the service decides transaction boundaries, so a refused request writes nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, false, func, or_, select, true
from sqlalchemy.orm import Session

from workbench.core.models import (
    AuditEvent,
    PromptContent,
    PromptVersion,
    canonical_json,
)
from workbench.registry.schemas import (
    Canary,
    CanaryGuards,
    CanaryHalt,
    EvalEvidence,
    LabelState,
    LabelTarget,
    Review,
)
from workbench.registry.server.tables import (
    AuditRow,
    ChangeRow,
    HeadRow,
    LabelRow,
    PromptRow,
    ReviewRow,
    UserRow,
    VersionRow,
)

# --- the head row: writers' lock, feed sequence, audit chain -------------------------


def lock_head(session: Session) -> HeadRow:
    """Take the writers' lock (a row lock on PostgreSQL; SQLite's BEGIN IMMEDIATE holds one)."""
    head = session.execute(select(HeadRow).where(HeadRow.id == 1).with_for_update()).scalar_one()
    return head


def add_change(
    session: Session, head: HeadRow, *, kind: str, prompt: str, ref: str, at: datetime
) -> int:
    head.change_seq += 1
    session.add(ChangeRow(seq=head.change_seq, kind=kind, prompt=prompt, ref=ref, at=at))
    return head.change_seq


def append_audit(
    session: Session,
    head: HeadRow,
    *,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    detail: dict[str, Any],
) -> AuditRow:
    digest = AuditEvent.compute_hash(head.audit_hash, at, actor, action, subject, detail)
    row = AuditRow(
        seq=head.audit_seq + 1,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        detail=canonical_json(detail).decode("utf-8"),
        prev_hash=head.audit_hash,
        hash=digest,
    )
    session.add(row)
    head.audit_seq = row.seq
    head.audit_hash = digest
    return row


def read_head(session: Session) -> HeadRow:
    return session.execute(select(HeadRow).where(HeadRow.id == 1)).scalar_one()


# --- users ---------------------------------------------------------------------------


_CREDENTIALS = select(
    UserRow.name, UserRow.role, UserRow.disabled, UserRow.token_expires_at, UserRow.prompt_scope
).where(UserRow.token_hash == bindparam("token_hash"))


def credentials_by_token_hash(
    conn: Connection, token_hash: str
) -> Row[str, str, bool, datetime | None, str | None] | None:
    """The columns authentication needs, read fresh on every request (so disabling a
    user or rotating a token takes effect at once), without an ORM session."""
    return conn.execute(_CREDENTIALS, {"token_hash": token_hash}).one_or_none()


def user_by_name(session: Session, name: str) -> UserRow | None:
    return session.execute(select(UserRow).where(UserRow.name == name)).scalar_one_or_none()


def list_users(session: Session) -> Sequence[UserRow]:
    return session.execute(select(UserRow).order_by(UserRow.name)).scalars().all()


# --- prompts and versions ------------------------------------------------------------


def prompt_by_name(session: Session, name: str) -> PromptRow | None:
    return session.execute(select(PromptRow).where(PromptRow.name == name)).scalar_one_or_none()


def _in_scope(scope: Sequence[str] | None) -> Any:
    """A WHERE clause: the prompt's name is one of ``scope`` or under one of its folders."""
    if scope is None:
        return true()
    parts = []
    for entry in scope:
        if entry.endswith("/"):
            parts.append(PromptRow.name.startswith(entry, autoescape=True))
        else:
            parts.append(PromptRow.name == entry)
    return or_(false(), *parts)


def list_prompts(
    session: Session, *, offset: int, limit: int, scope: Sequence[str] | None = None
) -> Sequence[PromptRow]:
    stmt = (
        select(PromptRow)
        .where(_in_scope(scope))
        .order_by(PromptRow.name)
        .offset(offset)
        .limit(limit)
    )
    return session.execute(stmt).scalars().all()


def count_prompts(session: Session, scope: Sequence[str] | None = None) -> int:
    stmt = select(func.count()).select_from(PromptRow).where(_in_scope(scope))
    return int(session.execute(stmt).scalar_one())


def version_row(session: Session, version_id: uuid.UUID) -> VersionRow | None:
    return session.get(VersionRow, version_id)


def parent_prompts(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The prompt name each of ``ids`` belongs to (unknown ids are left out)."""
    wanted = list(ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(VersionRow.id, PromptRow.name)
        .join(PromptRow, PromptRow.id == VersionRow.prompt_id)
        .where(VersionRow.id.in_(wanted))
    )
    return {vid: name for vid, name in rows}


def version_by_number(session: Session, prompt: PromptRow, number: int) -> VersionRow | None:
    return session.execute(
        select(VersionRow).where(VersionRow.prompt_id == prompt.id, VersionRow.number == number)
    ).scalar_one_or_none()


def versions_of(
    session: Session, prompt: PromptRow, *, after_number: int, limit: int
) -> Sequence[VersionRow]:
    stmt = (
        select(VersionRow)
        .where(VersionRow.prompt_id == prompt.id, VersionRow.number > after_number)
        .order_by(VersionRow.number)
        .limit(limit)
    )
    return session.execute(stmt).scalars().all()


def version_numbers(session: Session, prompt: PromptRow) -> list[int]:
    stmt = select(VersionRow.number).where(VersionRow.prompt_id == prompt.id)
    return sorted(session.execute(stmt).scalars())


def to_version(row: VersionRow, prompt_name: str) -> PromptVersion:
    return PromptVersion(
        id=row.id,
        prompt=prompt_name,
        content=PromptContent.model_validate_json(row.content),
        content_hash=row.content_hash,
        message=row.message,
        author=row.author,
        created_at=row.created_at,
        parent_ids=tuple(uuid.UUID(p) for p in json.loads(row.parent_ids)),
        number=row.number,
    )


# --- reviews -------------------------------------------------------------------------


def reviews_for(session: Session, version_id: uuid.UUID) -> Sequence[ReviewRow]:
    stmt = (
        select(ReviewRow)
        .where(ReviewRow.version_id == version_id)
        .order_by(ReviewRow.created_at, ReviewRow.id)
    )
    return session.execute(stmt).scalars().all()


def to_review(row: ReviewRow, prompt_name: str) -> Review:
    evidence = EvalEvidence.model_validate_json(row.evidence) if row.evidence else None
    return Review(
        id=row.id,
        prompt=prompt_name,
        version_id=row.version_id,
        content_hash=row.content_hash,
        reviewer=row.reviewer,
        decision=row.decision,
        comment=row.comment,
        evidence=evidence,
        created_at=row.created_at,
        suite_hash=row.suite_hash,
    )


# --- labels --------------------------------------------------------------------------


def label_row(session: Session, prompt: PromptRow, name: str) -> LabelRow | None:
    return session.execute(
        select(LabelRow).where(LabelRow.prompt_id == prompt.id, LabelRow.name == name)
    ).scalar_one_or_none()


# Built once: constructing a statement costs more than running it on SQLite.
_LABEL_POINTER = (
    select(
        LabelRow.id.is_not(None),
        LabelRow.version_id,
        LabelRow.canary_version_id,
        LabelRow.canary_percent,
        LabelRow.updated_at,
        LabelRow.updated_by,
        LabelRow.canary_guards,
        LabelRow.halted,
    )
    .select_from(PromptRow)
    .outerjoin(
        LabelRow, (LabelRow.prompt_id == PromptRow.id) & (LabelRow.name == bindparam("label"))
    )
    .where(PromptRow.name == bindparam("prompt"))
)
_VERSION_BY_ID = select(VersionRow.__table__).where(VersionRow.id == bindparam("version_id"))


def label_pointer(
    conn: Connection, prompt: str, label: str
) -> (
    Row[bool, uuid.UUID | None, uuid.UUID | None, int, datetime, str, str | None, str | None] | None
):
    """One indexed lookup for what ``resolve`` must read fresh each time: whether the
    prompt exists, and its label row's mutable fields (None: no such prompt)."""
    return conn.execute(_LABEL_POINTER, {"prompt": prompt, "label": label}).one_or_none()


def version_by_id(conn: Connection, version_id: uuid.UUID) -> VersionRow | None:
    """A version read over a plain connection (versions are immutable, so callers cache)."""
    row = conn.execute(_VERSION_BY_ID, {"version_id": version_id}).first()
    if row is None:
        return None
    return VersionRow(**row._asdict())


def labels_of(session: Session, prompt: PromptRow) -> Sequence[LabelRow]:
    stmt = select(LabelRow).where(LabelRow.prompt_id == prompt.id).order_by(LabelRow.name)
    return session.execute(stmt).scalars().all()


def labels_pointing_at(session: Session, version_id: uuid.UUID) -> list[str]:
    stmt = select(LabelRow.name).where(LabelRow.version_id == version_id).order_by(LabelRow.name)
    return list(session.execute(stmt).scalars())


def make_target(
    version_id: uuid.UUID, canary_id: uuid.UUID | None, percent: int, guards: str | None
) -> LabelTarget:
    canary = None
    if canary_id is not None:
        canary = Canary(
            version_id=canary_id,
            percent=percent,
            guards=CanaryGuards.model_validate_json(guards) if guards else None,
        )
    return LabelTarget(version_id=version_id, canary=canary)


def target_of(row: LabelRow) -> LabelTarget:
    return make_target(row.version_id, row.canary_version_id, row.canary_percent, row.canary_guards)


def halt_of(halted: str | None) -> CanaryHalt | None:
    return CanaryHalt.model_validate_json(halted) if halted else None


def to_label_state(row: LabelRow, prompt_name: str, *, protected: bool) -> LabelState:
    return LabelState(
        prompt=prompt_name,
        name=row.name,
        target=target_of(row),
        protected=protected,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        halted=halt_of(row.halted),
    )


# --- change feed ---------------------------------------------------------------------


def changes_after(session: Session, since: int, limit: int) -> Sequence[ChangeRow]:
    """A range scan on the primary key: the cost follows the page, not the table."""
    stmt = select(ChangeRow).where(ChangeRow.seq > since).order_by(ChangeRow.seq).limit(limit)
    return session.execute(stmt).scalars().all()


def versions_with_prompt(
    session: Session, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[VersionRow, str]]:
    wanted = list(ids)
    if not wanted:
        return {}
    stmt = (
        select(VersionRow, PromptRow.name)
        .join(PromptRow, PromptRow.id == VersionRow.prompt_id)
        .where(VersionRow.id.in_(wanted))
    )
    return {v.id: (v, name) for v, name in session.execute(stmt)}


def reviews_with_prompt(
    session: Session, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[ReviewRow, str]]:
    wanted = list(ids)
    if not wanted:
        return {}
    stmt = (
        select(ReviewRow, PromptRow.name)
        .join(VersionRow, VersionRow.id == ReviewRow.version_id)
        .join(PromptRow, PromptRow.id == VersionRow.prompt_id)
        .where(ReviewRow.id.in_(wanted))
    )
    return {r.id: (r, name) for r, name in session.execute(stmt)}


def labels_with_prompt(session: Session, ids: Iterable[int]) -> dict[int, tuple[LabelRow, str]]:
    wanted = list(ids)
    if not wanted:
        return {}
    stmt = (
        select(LabelRow, PromptRow.name)
        .join(PromptRow, PromptRow.id == LabelRow.prompt_id)
        .where(LabelRow.id.in_(wanted))
    )
    return {lbl.id: (lbl, name) for lbl, name in session.execute(stmt)}


# --- audit ---------------------------------------------------------------------------


def audit_after(
    session: Session, since: int, limit: int, subject: str | None
) -> Sequence[AuditRow]:
    stmt = select(AuditRow).where(AuditRow.seq > since)
    if subject is not None:
        stmt = stmt.where(AuditRow.subject == subject)
    return session.execute(stmt.order_by(AuditRow.seq).limit(limit)).scalars().all()


def iter_audit(session: Session, batch: int = 2000) -> Iterator[AuditRow]:
    since = 0
    while True:
        rows = audit_after(session, since, batch, None)
        if not rows:
            return
        yield from rows
        since = rows[-1].seq
