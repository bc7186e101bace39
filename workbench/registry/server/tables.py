"""SQLAlchemy 2.0 tables of the registry (its own, separate from the vault's).

The schema is created and changed only by the Alembic migrations in
``migrations/``; a test checks that these classes and the migrations agree.

Writers serialise on the single ``registry_head`` row: it holds the last change
sequence number and the audit chain's head, so the change feed's numbers commit in
order and every audit entry links to the one committed before it, even with several
app processes on one PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike.

    Stored naive (in UTC) with microseconds, so ``isoformat()`` round-trips exactly,
    which the audit chain's hashes rely on.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the registry database")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PromptRow(Base):
    __tablename__ = "prompts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version_count: Mapped[int] = mapped_column(Integer, default=0)
    """The last per-prompt number handed out."""


class VersionRow(Base):
    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("prompt_id", "number", name="uq_versions_prompt_number"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id"))
    number: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    """Canonical JSON of the PromptContent."""
    content_hash: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    pushed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    parent_ids: Mapped[str] = mapped_column(Text)
    """JSON list of parent ids, in order (each checked to exist when pushed)."""


class ReviewRow(Base):
    __tablename__ = "reviews"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("versions.id"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    reviewer: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LabelRow(Base):
    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("prompt_id", "name", name="uq_labels_prompt_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id"))
    name: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("versions.id"))
    canary_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("versions.id"), nullable=True
    )
    canary_percent: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(64))


class ChangeRow(Base):
    """The change feed. ``seq`` is handed out under the head lock, so it commits in order."""

    __tablename__ = "changes"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    prompt: Mapped[str] = mapped_column(String(200))
    ref: Mapped[str] = mapped_column(String(64))
    """The version id, review id or label id the change is about."""
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditRow(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300), index=True)
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class HeadRow(Base):
    """One row: the writers' lock, the feed's last seq, the audit chain's head."""

    __tablename__ = "registry_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    change_seq: Mapped[int] = mapped_column(Integer)
    audit_seq: Mapped[int] = mapped_column(Integer)
    audit_hash: Mapped[str] = mapped_column(String(64))
