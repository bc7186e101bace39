"""What a row of the run log is: ``call`` (a cell of the matrix) or ``grader`` (the
model call that graded a cell's answer for a rubric assertion). Grader calls are in
the log and the spending, never in a run's cells, counts or summaries.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cells") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="call"))


def downgrade() -> None:
    with op.batch_alter_table("cells") as batch:
        batch.drop_column("kind")
