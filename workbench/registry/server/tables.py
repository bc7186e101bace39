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
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from workbench.registry.server.histogram import BUCKETS


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
    prompt_scope: Mapped[str | None] = mapped_column(Text, nullable=True)
    """App tokens only: the prompts it may read, as a JSON list of names and folder
    prefixes ending in '/' (null: every prompt)."""


class PromptRow(Base):
    __tablename__ = "prompts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version_count: Mapped[int] = mapped_column(Integer, default=0)
    """The last per-prompt number handed out."""
    suite_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The prompt's current test suite (a ``suites`` row); null: none pushed (0004)."""


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
    suite_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The suite the review names; null: reviewed without a suite (all reviews before 0004)."""


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
    canary_guards: Mapped[str | None] = mapped_column(Text, nullable=True)
    """JSON of the canary's ``CanaryGuards`` (null: no guard rails)."""
    halted: Mapped[str | None] = mapped_column(Text, nullable=True)
    """JSON of the ``CanaryHalt`` when the registry rolled the canary back; cleared by a move."""


class ChangeRow(Base):
    """The change feed. ``seq`` is handed out under the head lock, so it commits in order."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_kind_ref", "kind", "ref"),)
    """Which prompts a suite was current for (0004): reviews name suites by hash."""

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


# --- test suites and evidence policies (migration 0004) --------------------------------


class SuiteRow(Base):
    """A pushed test suite, content-addressed: ``hash`` is its suite hash
    (``workbench.core.suites``), ``cases`` its canonical JSON. Immutable."""

    __tablename__ = "suites"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    cases: Mapped[str] = mapped_column(Text)
    case_count: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(64))
    pushed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PolicyRow(Base):
    """The evidence policy of a folder ('' : every prompt): a ``FolderPolicy`` as JSON."""

    __tablename__ = "folder_policies"

    folder: Mapped[str] = mapped_column(String(200), primary_key=True)
    data: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(64))


# --- production telemetry (migration 0002) -------------------------------------------


class SpanRow(Base):
    """One GenAI span a production app sent, as stored: no text, no variables.

    ``version_id`` is the version it is linked to (by its prompt attributes, or by the
    resolution on record for its caller); ``linked_by`` says which.
    """

    __tablename__ = "spans"
    __table_args__ = (
        UniqueConstraint("trace_id", "span_id", name="uq_spans_trace_span"),
        Index("ix_spans_app_key_at", "app", "caller_key", "at"),
        Index("ix_spans_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    trace_id: Mapped[str] = mapped_column(String(32))
    span_id: Mapped[str] = mapped_column(String(16))
    app: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    """The span's start."""
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    prompt: Mapped[str | None] = mapped_column(String(200), nullable=True)
    version_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    version_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    label: Mapped[str | None] = mapped_column(String(64), nullable=True)
    linked_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    provider: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request_model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    response_model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    input_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    output_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    ttft_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    finish_reasons: Mapped[str] = mapped_column(String(200), default="")
    """Comma-separated."""
    caller_key: Mapped[str | None] = mapped_column(String(200), nullable=True)


class ResolutionRow(Base):
    """Which version ``resolve`` served a caller: one row per (app, key, prompt, label,
    version) with when it was first and last served, so a span without prompt
    attributes can be linked to what its caller was being served at its time."""

    __tablename__ = "resolutions"
    __table_args__ = (
        UniqueConstraint(
            "app", "caller_key", "prompt", "label", "version_id", name="uq_resolutions_key"
        ),
        Index("ix_resolutions_app_key", "app", "caller_key", "first_seen"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app: Mapped[str] = mapped_column(String(64))
    caller_key: Mapped[str] = mapped_column(String(200))
    """'' when the caller sent no key."""
    prompt: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    version_number: Mapped[int] = mapped_column(Integer)
    served: Mapped[str] = mapped_column(String(8))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())


ROLLUP_KEY = ("prompt", "version_number", "label", "app", "hour")
ROLLUP_SUMS = (
    "calls",
    "errors",
    "latency_count",
    "latency_sum_ms",
    "ttft_count",
    "ttft_sum_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "priced",
    "unpriced",
)
LATENCY_BUCKETS = tuple(f"lat_{i:02d}" for i in range(BUCKETS))
TTFT_BUCKETS = tuple(f"ttft_{i:02d}" for i in range(BUCKETS))

span_rollups = Table(
    "span_rollups",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("prompt", String(200), nullable=False),
    Column("version_number", Integer, nullable=False),
    Column("label", String(64), nullable=False),
    Column("app", String(64), nullable=False),
    Column("hour", UTCDateTime(), nullable=False),
    *(
        Column(
            name,
            Float if name in ("latency_sum_ms", "ttft_sum_ms", "cost_usd") else BigInteger,
            nullable=False,
            server_default="0",
        )
        for name in ROLLUP_SUMS
    ),
    *(Column(name, Integer, nullable=False, server_default="0") for name in LATENCY_BUCKETS),
    *(Column(name, Integer, nullable=False, server_default="0") for name in TTFT_BUCKETS),
    UniqueConstraint(*ROLLUP_KEY, name="uq_span_rollups_key"),
    Index("ix_span_rollups_prompt_hour", "prompt", "hour"),
)
"""Per (prompt, version, label, app, hour): sums and two fixed-bucket histograms.
Unknown parts of the key are '' / 0 (NULLs would defeat the unique key). Updated by
upserts that add, in the ingest transaction, so dashboards never scan raw spans."""
