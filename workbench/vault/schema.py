"""SQLAlchemy 2.0 ORM tables of the vault. Only workbench.vault touches them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (SQLite has no time zones); always read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the vault; use an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class PromptRow(Base):
    __tablename__ = "prompts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    versions: Mapped[list[VersionRow]] = relationship(back_populates="prompt_row")


class VersionRow(Base):
    """An immutable prompt version. ``content`` is the canonical JSON that was hashed."""

    __tablename__ = "versions"
    __table_args__ = (
        Index("ix_versions_prompt_seq", "prompt_id", "seq"),
        Index("ix_versions_unpushed", "seq", sqlite_where=text("number IS NULL")),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="RESTRICT"))
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    number: Mapped[int | None] = mapped_column(Integer, nullable=True)

    prompt_row: Mapped[PromptRow] = relationship(back_populates="versions")


class VersionParentRow(Base):
    __tablename__ = "version_parents"

    version_id: Mapped[str] = mapped_column(
        ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True
    )
    parent_id: Mapped[str] = mapped_column(
        ForeignKey("versions.id", ondelete="RESTRICT"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)


class LabelRow(Base):
    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("prompt_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[str] = mapped_column(ForeignKey("versions.id", ondelete="RESTRICT"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(16), default="local")
    """'registry' (mirrored on every sync; the registry is its truth) or 'local'."""
    canary_version_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    canary_percent: Mapped[int | None] = mapped_column(Integer, nullable=True)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by: Mapped[str] = mapped_column(String(200), default="")


class LabelEventRow(Base):
    """One move of a label: the registry's audit entries (``registry_seq``) and local moves."""

    __tablename__ = "label_events"
    __table_args__ = (Index("ix_label_events_prompt", "prompt_id", "seq"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    from_version_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    to_version_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    to_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    canary_version_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    canary_percent: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(16))
    registry_seq: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)


class AuditRow(Base):
    """Append-only; each row carries the hash of the one before (a hash chain)."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    prompt: Mapped[str] = mapped_column(String(200))
    spec: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    total_cells: Mapped[int] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """``host:pid:start`` of the process running it (see ``vault.run_log.process_owner``)."""


class CellRow(Base):
    """One model call of a run (the run log). ``data`` is the CellResult as JSON."""

    __tablename__ = "cells"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    version_id: Mapped[str] = mapped_column(String(36))
    profile: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    case_index: Mapped[int] = mapped_column(Integer)
    repeat: Mapped[int] = mapped_column(Integer)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    error_kind: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    data: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="call", server_default="call")
    """``call`` (a cell of the matrix) or ``grader`` (a rubric's grading call)."""


class RunSummaryRow(Base):
    """One version x model of a run, summed over cases and repeats (a ``SummaryRow`` as
    JSON), written when the run ends so evidence never parses the cells."""

    __tablename__ = "run_summaries"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    version_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    profile: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    data: Mapped[str] = mapped_column(Text)


class SpendRow(Base):
    """Spending per UTC day, profile, model, prompt, version and call kind: what the run
    log's cells add up to, kept in the transaction that stores them, so ``costs`` reads
    a few thousand rows instead of every call. Cached replays are not spending. Pruning
    the log keeps these rows: cumulative spending outlives the retention of the calls."""

    __tablename__ = "spending"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    profile: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    prompt: Mapped[str] = mapped_column(String(200), primary_key=True)
    version_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer)
    errors: Mapped[int] = mapped_column(Integer)
    input_tokens: Mapped[int] = mapped_column(Integer)
    output_tokens: Mapped[int] = mapped_column(Integer)
    cost_usd: Mapped[float] = mapped_column(Float)
    """Sum over the priced calls."""
    priced: Mapped[int] = mapped_column(Integer)
    unpriced: Mapped[int] = mapped_column(Integer)
    """Answered calls without a price (errors are neither priced nor unpriced)."""


class CacheRow(Base):
    __tablename__ = "response_cache"

    request_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[str] = mapped_column(Text)


class SyncStateRow(Base):
    __tablename__ = "sync_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class OutboxRow(Base):
    """A local decision (review, label move) waiting to reach the registry."""

    __tablename__ = "outbox"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    prompt: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class RemoteReviewRow(Base):
    __tablename__ = "remote_reviews"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    prompt: Mapped[str] = mapped_column(String(200))
    version_id: Mapped[str] = mapped_column(String(36))
    data: Mapped[str] = mapped_column(Text)


class TestCaseRow(Base):
    """One row of a prompt's test-case table (variable values as JSON)."""

    __tablename__ = "test_cases"
    __test__ = False  # not a pytest class

    prompt_id: Mapped[int] = mapped_column(
        ForeignKey("prompts.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    vals: Mapped[str] = mapped_column(Text)
    assertions: Mapped[str] = mapped_column(Text, default="[]")


class SuiteRow(Base):
    """A test suite the vault has seen in the registry (pushed or pulled), by its suite
    hash (``workbench.core.suites``): what a review's suite hash names, so a suite diff
    against the suite an approval named works offline. Immutable."""

    __tablename__ = "suites"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    cases: Mapped[str] = mapped_column(Text)
    """JSON list of the cases (``canonical_suite``)."""
    author: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PromptSuiteRow(Base):
    """The registry's current suite of a prompt as of the last sync: the parent of the
    next push, and what tells "my cases changed" from "theirs did"."""

    __tablename__ = "prompt_suites"

    prompt_id: Mapped[int] = mapped_column(
        ForeignKey("prompts.id", ondelete="CASCADE"), primary_key=True
    )
    registry_hash: Mapped[str] = mapped_column(String(64))


class SourceRow(Base):
    """A named data source (``workbench.core.sources``); its versions hold the rest."""

    __tablename__ = "data_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """Set by ``source remove``: nothing may use it; its versions stay (runs name them)."""


class SourceVersionRow(Base):
    """One immutable version of a source: its definition (hashed, pinned by prompt
    versions) and its allow-lists (not hashed). Never a secret: a credential is named."""

    __tablename__ = "data_source_versions"
    __table_args__ = (Index("ix_data_source_versions_hash", "source_id", "definition_hash"),)

    source_id: Mapped[int] = mapped_column(
        ForeignKey("data_sources.id", ondelete="RESTRICT"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    definition: Mapped[str] = mapped_column(Text)
    definition_hash: Mapped[str] = mapped_column(String(64))
    access: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")
