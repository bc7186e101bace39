"""Index the versions not yet pushed, so each sync finds its drafts without a full scan.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_versions_unpushed",
        "versions",
        ["seq"],
        sqlite_where=sa.text("number IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_versions_unpushed", "versions")
