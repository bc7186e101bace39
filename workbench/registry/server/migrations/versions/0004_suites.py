"""Test suites as reviewed content: content-addressed suites, each prompt's current
suite, the suite a review names, and per-folder evidence policies.

Existing reviews keep ``suite_hash`` NULL: approved without a suite, and shown so.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workbench.registry.server.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suites",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("cases", sa.Text(), nullable=False),
        sa.Column("case_count", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("pushed_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "folder_policies",
        sa.Column("folder", sa.String(200), primary_key=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
    )
    op.add_column("prompts", sa.Column("suite_hash", sa.String(64), nullable=True))
    op.add_column("reviews", sa.Column("suite_hash", sa.String(64), nullable=True))
    op.create_index("ix_changes_kind_ref", "changes", ["kind", "ref"])


def downgrade() -> None:
    op.drop_index("ix_changes_kind_ref", table_name="changes")
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of ``prompts`` would fail on the
    # foreign keys that point at it.
    op.drop_column("reviews", "suite_hash")
    op.drop_column("prompts", "suite_hash")
    op.drop_table("folder_policies")
    op.drop_table("suites")
