"""Opening a vault file: pragmas, the vault marker, and migrations.

Rules (DESIGN.md "Storage rules"): WAL, ``foreign_keys=ON``, ``synchronous=FULL``;
write transactions start with ``BEGIN IMMEDIATE`` so two writers never race on a
stale snapshot; schema changes only through Alembic migrations, and an existing
vault is copied aside before it is migrated.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import QueuePool

from workbench.core.errors import UsageError
from workbench.vault.files import (
    APPLICATION_ID,
    HEAD_REVISION,
    MIGRATIONS_DIR,
    check_file,
    configure_connection,
    configure_read_only,
    known_revisions,
    read_only_uri,
    writable,
)

log = logging.getLogger(__name__)


def _begin(conn: Any) -> None:
    if conn.get_execution_options().get("immediate"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def _current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        has_table = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='alembic_version'"
        ).first()
        if not has_table:
            return None
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return None if row is None else str(row[0])


def _backup(path: Path, revision: str) -> Path:
    target = path.with_name(f"{path.name}.before-{revision}.bak")
    src = sqlite3.connect(path)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return target


def migrate(engine: Engine) -> None:
    """Upgrade the vault schema to the newest revision with Alembic."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.exec_driver_sql(f"PRAGMA application_id = {APPLICATION_ID}")


def open_engine(path: Path, *, create: bool = False) -> Engine:
    """Open (or with ``create``, create) the vault at ``path``, migrated to the newest schema."""
    path = path.expanduser()
    exists = path.exists() and path.stat().st_size > 0
    read_only = exists and not writable(path)
    if exists:
        check_file(path, read_only)
    elif not create:
        raise UsageError(
            f"no vault at {path}",
            hint=f"Create one with: workbench vault init --vault {path}",
        )
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    if read_only:
        uri = read_only_uri(path)
        engine = create_engine(
            "sqlite+pysqlite://",
            creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
            poolclass=QueuePool,
            pool_size=4,
            max_overflow=4,
        )
        event.listen(engine, "connect", configure_read_only)
    else:
        engine = create_engine(
            f"sqlite+pysqlite:///{path}",
            poolclass=QueuePool,
            pool_size=4,
            max_overflow=4,
            connect_args={"check_same_thread": False},
        )
        event.listen(engine, "connect", configure_connection)
    event.listen(engine, "begin", _begin)
    revision = _current_revision(engine)
    if revision is not None and revision not in known_revisions():
        engine.dispose()
        raise UsageError(
            f"{path} was written by a newer Prompt Workbench (vault schema {revision}; "
            f"this one knows up to {HEAD_REVISION})",
            hint="Upgrade Prompt Workbench (pip install -U prompt-workbench) to open it. "
            "Nothing was changed or copied.",
        )
    if revision != HEAD_REVISION and read_only:
        engine.dispose()
        raise UsageError(
            f"{path} needs upgrading to vault schema {HEAD_REVISION}, and it is read-only",
            hint="Copy it somewhere you can write and open the copy (--vault COPY).",
        )
    if read_only:
        return engine.execution_options(read_only_vault=True)
    if revision != HEAD_REVISION:
        if exists and revision is not None:
            backup = _backup(path, revision)
            log.info(
                "vault schema %s -> %s; a copy was kept at %s", revision, HEAD_REVISION, backup
            )
        migrate(engine)
    return engine
