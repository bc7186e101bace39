"""Alembic environment for the registry: always run on a connection handed in by ``db.upgrade``."""

from __future__ import annotations

from alembic import context

from workbench.registry.server.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run registry migrations through workbench.registry.server.db.upgrade()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    version_table="registry_alembic_version",
)
with context.begin_transaction():
    context.run_migrations()
