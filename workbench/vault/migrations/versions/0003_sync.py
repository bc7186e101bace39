"""Sync with the team registry: cursor, outbox, mirrored reviews and registry labels.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_state",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("prompt", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_table(
        "remote_reviews",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("prompt", sa.String(200), nullable=False),
        sa.Column("version_id", sa.String(36), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index("ix_remote_reviews_version", "remote_reviews", ["version_id"])
    op.create_table(
        "registry_labels",
        sa.Column("prompt", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("data", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("registry_labels")
    op.drop_index("ix_remote_reviews_version", "remote_reviews")
    op.drop_table("remote_reviews")
    op.drop_table("outbox")
    op.drop_table("sync_state")
