"""Spending rollups: one row per UTC day, profile, model, prompt, version and call kind,
so ``workbench costs`` and the Spending page never scan the run log. Filled from the
cells a vault already holds.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spending",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("profile", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("prompt", sa.String(200), primary_key=True),
        sa.Column("version_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("priced", sa.Integer(), nullable=False),
        sa.Column("unpriced", sa.Integer(), nullable=False),
    )
    op.execute(
        """
        INSERT INTO spending
        SELECT strftime('%Y-%m-%d', c.finished_at), c.profile, c.model, r.prompt,
               c.version_id, c.kind, count(*),
               count(*) FILTER (WHERE c.error_kind IS NOT NULL),
               coalesce(sum(json_extract(c.data, '$.input_tokens')), 0),
               coalesce(sum(json_extract(c.data, '$.output_tokens')), 0),
               coalesce(sum(c.cost_usd), 0.0),
               count(c.cost_usd),
               count(*) FILTER (WHERE c.cost_usd IS NULL AND c.error_kind IS NULL)
        FROM cells c JOIN runs r ON r.id = c.run_id
        WHERE coalesce(json_extract(c.data, '$.cached'), 0) = 0
        GROUP BY 1, 2, 3, 4, 5, 6
        """
    )


def downgrade() -> None:
    op.drop_table("spending")
