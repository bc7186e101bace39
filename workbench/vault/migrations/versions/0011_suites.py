"""Test suites as reviewed content: the suites the vault has seen in the registry (by
suite hash) and each prompt's registry suite as of the last sync.

Nothing to backfill: no suite has been pushed yet, so the next sync pushes every
prompt's local cases; mirrored reviews from before read as "approved without a suite".

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suites",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("cases", sa.Text, nullable=False),
        sa.Column("author", sa.String(64), nullable=True),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "prompt_suites",
        sa.Column(
            "prompt_id",
            sa.Integer,
            sa.ForeignKey("prompts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("registry_hash", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("prompt_suites")
    op.drop_table("suites")
