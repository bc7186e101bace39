"""Registry labels live in the vault's one label table, with their history.

Before, the registry's labels sat as JSON in ``registry_labels`` while History, the
label filter and ``vault history/list --label`` read ``labels``: a label published in
the registry never showed. Now ``labels`` holds both kinds (``source`` says which),
with the registry's canary, protection and author; ``label_events`` holds every move
(the registry's audit entries, and local moves). The old JSON rows are carried over,
and the sync cursor goes back to 0 so the next sync fetches the label history too
(a re-pull: versions and reviews already here are skipped).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("labels") as batch:
        batch.add_column(sa.Column("source", sa.String(16), nullable=False, server_default="local"))
        batch.add_column(sa.Column("canary_version_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("canary_percent", sa.Integer, nullable=True))
        batch.add_column(
            sa.Column("protected", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("updated_by", sa.String(200), nullable=False, server_default=""))
    op.create_table(
        "label_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "prompt_id", sa.Integer, sa.ForeignKey("prompts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("from_version_id", sa.String(36), nullable=True),
        sa.Column("to_version_id", sa.String(36), nullable=True),
        sa.Column("to_number", sa.Integer, nullable=True),
        sa.Column("canary_version_id", sa.String(36), nullable=True),
        sa.Column("canary_percent", sa.Integer, nullable=True),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("registry_seq", sa.Integer, nullable=True, unique=True),
    )
    op.create_index("ix_label_events_prompt", "label_events", ["prompt_id", "seq"])

    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT prompt, name, data FROM registry_labels")).all()
    for prompt, name, data in rows:
        state = json.loads(data)
        target = state.get("target") or {}
        canary = target.get("canary") or {}
        pid = conn.execute(
            sa.text("SELECT id FROM prompts WHERE name = :n"), {"n": prompt}
        ).scalar()
        vid = target.get("version_id")
        known = conn.execute(sa.text("SELECT 1 FROM versions WHERE id = :v"), {"v": vid}).scalar()
        if pid is None or not known:
            continue  # the next sync (from cursor 0) brings it
        updated = datetime.fromisoformat(state["updated_at"]).astimezone(UTC).replace(tzinfo=None)
        conn.execute(
            sa.text("DELETE FROM labels WHERE prompt_id = :p AND name = :n"), {"p": pid, "n": name}
        )
        conn.execute(
            sa.text(
                "INSERT INTO labels (prompt_id, name, version_id, updated_at, source, "
                "canary_version_id, canary_percent, protected, updated_by) VALUES "
                "(:p, :n, :v, :at, 'registry', :cv, :cp, :prot, :by)"
            ),
            {
                "p": pid,
                "n": name,
                "v": vid,
                "at": updated,
                "cv": canary.get("version_id"),
                "cp": canary.get("percent"),
                "prot": bool(state.get("protected")),
                "by": state.get("updated_by", ""),
            },
        )
    op.drop_table("registry_labels")
    conn.execute(sa.text("UPDATE sync_state SET value = '0' WHERE key = 'cursor'"))


def downgrade() -> None:
    op.create_table(
        "registry_labels",
        sa.Column("prompt", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("data", sa.Text, nullable=False),
    )
    conn = op.get_bind()
    conn.execute(sa.text("DELETE FROM labels WHERE source = 'registry'"))
    conn.execute(sa.text("UPDATE sync_state SET value = '0' WHERE key = 'cursor'"))
    op.drop_index("ix_label_events_prompt", "label_events")
    op.drop_table("label_events")
    with op.batch_alter_table("labels") as batch:
        for column in ("updated_by", "protected", "canary_percent", "canary_version_id", "source"):
            batch.drop_column(column)
