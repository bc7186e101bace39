"""A vault file before any ORM: telling a vault from another file, its schema revision,
and the pragmas every connection to it gets (DESIGN.md "Storage rules": WAL,
``foreign_keys=ON``, ``synchronous=FULL``, a busy timeout).

Standard library only: :mod:`workbench.vault.db` (SQLAlchemy and Alembic) and
:mod:`workbench.vault.direct` (``sqlite3`` alone, for the run path) share it.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from workbench.core.errors import NotAVaultError, UsageError, VaultBusyError, WorkbenchError

# 'PWB1': marks a SQLite file as a Prompt Workbench vault (PRAGMA application_id).
APPLICATION_ID = 0x50574231

HEAD_REVISION = "0012"
"""The newest migration; a test checks it matches Alembic's head."""

SQLITE_MAGIC = b"SQLite format 3\x00"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")


BUSY_TIMEOUT_S = 10.0
"""How long a write waits for another writer before it is refused (VaultBusyError)."""


def configure_connection(dbapi_conn: sqlite3.Connection, _record: Any = None) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling is off).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = FULL")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def configure_read_only(dbapi_conn: sqlite3.Connection, _record: Any = None) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA query_only = ON")
    cur.close()


def writable(path: Path) -> bool:
    """The vault file and its folder can be written (SQLite's WAL needs both); False on
    a read-only disk or without permission, where the vault is opened read-only."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def read_only_uri(path: Path) -> str:
    # immutable: nobody can write a file on a read-only disk, so SQLite needs no -shm
    # or -wal file beside it (it could not make them there).
    return f"{path.resolve().as_uri()}?mode=ro&immutable=1"


def known_revisions() -> set[str]:
    """The schema revisions this release can open (its migrations' numbers)."""
    return {p.name[:4] for p in (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")}


def check_file(path: Path, read_only: bool = False) -> None:
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
        uri = read_only_uri(path) if read_only else f"file:{path}?mode=ro"
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


def current_revision(conn: sqlite3.Connection) -> str | None:
    """The vault's schema revision (Alembic's), None for a new, empty file."""
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='alembic_version'"
    ).fetchone()
    if not has_table:
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else str(row[0])


def write_refused(path: Path, error: str) -> WorkbenchError | None:
    """The error to raise for SQLite's ``error`` text on a write, None for any other:
    a writer that waited out the busy timeout, or a full disk. SQLite has rolled the
    transaction back: the vault is as it was before."""
    if "database is locked" in error:
        return VaultBusyError(
            f"the vault ({path}) is busy: another writer (an import, a sync, another "
            f"workbench process) held it for {BUSY_TIMEOUT_S:g} s; nothing was written",
            hint="Run it again when that has finished.",
        )
    if "database or disk is full" in error:
        return UsageError(
            f"the disk holding the vault ({path}) is full: nothing was written",
            hint="Free some space (or move the vault with --vault) and run it again.",
        )
    return None


def read_only_refused(path: Path) -> UsageError:
    return UsageError(
        f"the vault at {path} is read-only (a read-only disk, or no permission to write "
        "it or its folder): it can be read, not changed",
        hint="Copy it somewhere you can write, or fix its permissions, and use --vault COPY.",
    )
