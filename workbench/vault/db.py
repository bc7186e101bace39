"""Opening a vault file: pragmas, the vault marker, and migrations.

Rules (DESIGN.md "Storage rules"): WAL, ``foreign_keys=ON``, ``synchronous=FULL``;
write transactions start with ``BEGIN IMMEDIATE`` so two writers never race on a
stale snapshot; schema changes only through Alembic migrations, and an existing
vault is copied aside before it is migrated.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import QueuePool

from workbench.core.errors import NotAVaultError, UsageError
from workbench.vault.schema import APPLICATION_ID

log = logging.getLogger(__name__)

HEAD_REVISION = "0012"
"""The newest migration; a test checks it matches Alembic's head."""

SQLITE_MAGIC = b"SQLite format 3\x00"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")


BUSY_TIMEOUT_S = 10.0
"""How long a write waits for another writer before it is refused (VaultBusyError)."""


def _configure_connection(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling is off).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = FULL")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def _configure_read_only(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA query_only = ON")
    cur.close()


def writable(path: Path) -> bool:
    """The vault file and its folder can be written (SQLite's WAL needs both); False on
    a read-only disk or without permission, where the vault is opened read-only."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _read_only_uri(path: Path) -> str:
    # immutable: nobody can write a file on a read-only disk, so SQLite needs no -shm
    # or -wal file beside it (it could not make them there).
    return f"{path.resolve().as_uri()}?mode=ro&immutable=1"


def known_revisions() -> set[str]:
    """The schema revisions this release can open (its migrations' numbers)."""
    return {p.name[:4] for p in (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")}


def _begin(conn: Any) -> None:
    if conn.get_execution_options().get("immediate"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def _check_file(path: Path, read_only: bool = False) -> None:
    """Refuse, with a clear message, a file that is not a SQLite vault."""
    if path.is_dir():
        raise NotAVaultError(
            f"{path} is a directory, not a vault file",
            hint="Point --vault at a file, e.g. --vault ~/prompts/vault.sqlite3",
        )
    with path.open("rb") as fh:
        head = fh.read(len(SQLITE_MAGIC))
    if head != SQLITE_MAGIC:
        raise NotAVaultError(
            f"{path} is not a Prompt Workbench vault (not a SQLite database)",
            hint="Check the path; create a new vault with: workbench vault init --vault NEWFILE",
        )
    try:
        uri = _read_only_uri(path) if read_only else f"file:{path}?mode=ro"
        conn = sqlite3.connect(uri, uri=True)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise NotAVaultError(
            f"{path} is not a readable vault: {exc}",
            hint="The file may be damaged; restore it from a backup or an exported bundle.",
        ) from exc
    if app_id != APPLICATION_ID and tables > 0:
        raise NotAVaultError(
            f"{path} is a SQLite database but not a Prompt Workbench vault",
            hint="Check the path; create a new vault with: workbench vault init --vault NEWFILE",
        )


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
        _check_file(path, read_only)
    elif not create:
        raise UsageError(
            f"no vault at {path}",
            hint=f"Create one with: workbench vault init --vault {path}",
        )
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    if read_only:
        uri = _read_only_uri(path)
        engine = create_engine(
            "sqlite+pysqlite://",
            creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
            poolclass=QueuePool,
            pool_size=4,
            max_overflow=4,
        )
        event.listen(engine, "connect", _configure_read_only)
    else:
        engine = create_engine(
            f"sqlite+pysqlite:///{path}",
            poolclass=QueuePool,
            pool_size=4,
            max_overflow=4,
            connect_args={"check_same_thread": False},
        )
        event.listen(engine, "connect", _configure_connection)
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
