"""Runs, their cells (the run log of every model call) and the response cache.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("prompt", sa.String(200), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total_cells", sa.Integer, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=True),
    )
    op.create_index("ix_runs_prompt_started", "runs", ["prompt", "started_at"])
    op.create_table(
        "cells",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "run_id", sa.String(36), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("version_id", sa.String(36), nullable=False),
        sa.Column("profile", sa.String(64), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("case_index", sa.Integer, nullable=False),
        sa.Column("repeat", sa.Integer, nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=True),
        sa.Column("error_kind", sa.String(64), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index("ix_cells_run", "cells", ["run_id", "seq"])
    op.create_index("ix_cells_finished", "cells", ["finished_at"])
    op.create_table(
        "response_cache",
        sa.Column("request_hash", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("response_cache")
    op.drop_index("ix_cells_finished", "cells")
    op.drop_index("ix_cells_run", "cells")
    op.drop_table("cells")
    op.drop_index("ix_runs_prompt_started", "runs")
    op.drop_table("runs")
