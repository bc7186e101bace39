"""Production telemetry: GenAI spans, resolutions on record, hourly rollups, and the
canary guard rails and halt record on labels.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workbench.registry.server.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BUCKETS = 27
"""Histogram buckets per rollup (five per decade, 1 ms to 100 s, plus one above)."""
SUMS = (
    ("calls", sa.BigInteger()),
    ("errors", sa.BigInteger()),
    ("latency_count", sa.BigInteger()),
    ("latency_sum_ms", sa.Float()),
    ("ttft_count", sa.BigInteger()),
    ("ttft_sum_ms", sa.Float()),
    ("input_tokens", sa.BigInteger()),
    ("output_tokens", sa.BigInteger()),
    ("cost_usd", sa.Float()),
    ("priced", sa.BigInteger()),
    ("unpriced", sa.BigInteger()),
)


def upgrade() -> None:
    op.add_column("labels", sa.Column("canary_guards", sa.Text(), nullable=True))
    op.add_column("labels", sa.Column("halted", sa.Text(), nullable=True))
    op.create_table(
        "spans",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("span_id", sa.String(16), nullable=False),
        sa.Column("app", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("prompt", sa.String(200), nullable=True),
        sa.Column("version_number", sa.Integer(), nullable=True),
        sa.Column("version_id", sa.Uuid(), nullable=True),
        sa.Column("label", sa.String(64), nullable=True),
        sa.Column("linked_by", sa.String(16), nullable=True),
        sa.Column("provider", sa.String(64), nullable=True),
        sa.Column("request_model", sa.String(200), nullable=True),
        sa.Column("response_model", sa.String(200), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
        sa.Column("finish_reasons", sa.String(200), nullable=False),
        sa.Column("caller_key", sa.String(200), nullable=True),
        sa.UniqueConstraint("trace_id", "span_id", name="uq_spans_trace_span"),
    )
    op.create_index("ix_spans_app_key_at", "spans", ["app", "caller_key", "at"])
    op.create_index("ix_spans_at", "spans", ["at"])
    op.create_table(
        "resolutions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("app", sa.String(64), nullable=False),
        sa.Column("caller_key", sa.String(200), nullable=False),
        sa.Column("prompt", sa.String(200), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("served", sa.String(8), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.UniqueConstraint(
            "app", "caller_key", "prompt", "label", "version_id", name="uq_resolutions_key"
        ),
    )
    op.create_index("ix_resolutions_app_key", "resolutions", ["app", "caller_key", "first_seen"])
    op.create_table(
        "span_rollups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("prompt", sa.String(200), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("app", sa.String(64), nullable=False),
        sa.Column("hour", UTCDateTime(), nullable=False),
        *(sa.Column(name, kind, nullable=False, server_default="0") for name, kind in SUMS),
        *(
            sa.Column(f"lat_{i:02d}", sa.Integer(), nullable=False, server_default="0")
            for i in range(BUCKETS)
        ),
        *(
            sa.Column(f"ttft_{i:02d}", sa.Integer(), nullable=False, server_default="0")
            for i in range(BUCKETS)
        ),
        sa.UniqueConstraint(
            "prompt", "version_number", "label", "app", "hour", name="uq_span_rollups_key"
        ),
    )
    op.create_index("ix_span_rollups_prompt_hour", "span_rollups", ["prompt", "hour"])


def downgrade() -> None:
    for table in ("span_rollups", "resolutions", "spans"):
        op.drop_table(table)
    with op.batch_alter_table("labels") as batch:
        batch.drop_column("halted")
        batch.drop_column("canary_guards")
