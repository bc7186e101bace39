"""Alembic environment for the vault: runs on the connection the vault hands over."""

from __future__ import annotations

from alembic import context

from workbench.vault.schema import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the vault drives these migrations
    raise RuntimeError("vault migrations run through workbench.vault.db.open_vault")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
