"""Engines, sessions and start-up migrations for the registry database.

SQLite (the zero set-up default) runs in WAL mode so readers never wait for the
writer; write transactions start with ``BEGIN IMMEDIATE`` so two writers queue on
SQLite's lock instead of failing half-way with "database is locked". PostgreSQL
writers serialise on the ``registry_head`` row (``SELECT ... FOR UPDATE``) instead.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from workbench.core.errors import UsageError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0


def default_db_url() -> str:
    """A SQLite file in the platform data directory: ``workbench registry serve`` needs nothing."""
    import platformdirs

    data_dir = Path(platformdirs.user_data_dir("prompt-workbench", appauthor=False))
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'registry.sqlite3'}"


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        pool_size=20,
        max_overflow=40,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@dataclass
class Database:
    """The registry's engines: one for reads, one for writes (the same on PostgreSQL)."""

    url: str
    read_engine: Engine
    write_engine: Engine
    _sqlite_writer: threading.Lock = field(default_factory=threading.Lock)
    """Queues this process's SQLite writers in Python: SQLite's own busy handler sleeps
    in steps of up to 100 ms, which turned contention into multi-second tails."""

    @property
    def is_sqlite(self) -> bool:
        return self.read_engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        with Session(self.read_engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextlib.contextmanager
    def writing(self) -> Iterator[Session]:
        """One transaction: committed whole on success, rolled back whole on any error."""
        guard = self._sqlite_writer if self.is_sqlite else contextlib.nullcontext()
        with (
            guard,
            Session(self.write_engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    def dispose(self) -> None:
        self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            self.write_engine.dispose()


def open_database(url: str, *, migrate: bool = True) -> Database:
    """Connect to ``url`` and bring its schema up to date (idempotent, safe to repeat)."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise UsageError(
            f"not a database URL: {url!r}",
            hint="Use sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DBNAME.",
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            parent = Path(parsed.database).expanduser().resolve().parent
            if not parent.is_dir():
                raise UsageError(
                    f"the directory for the registry database does not exist: {parent}",
                    hint="Create it first, or pass another --db URL.",
                )
        read_engine = _sqlite_engine(url, immediate=False)
        write_engine = _sqlite_engine(url, immediate=True)
    elif parsed.get_backend_name() == "postgresql":
        read_engine = write_engine = create_engine(url, pool_size=20, max_overflow=20)
    else:
        raise UsageError(
            f"unsupported database {parsed.get_backend_name()!r}",
            hint="The registry runs on SQLite or PostgreSQL.",
        )
    db = Database(url=url, read_engine=read_engine, write_engine=write_engine)
    if migrate:
        upgrade(db)
    return db


def upgrade(db: Database) -> None:
    """Run the registry's own Alembic migrations up to head.

    On PostgreSQL an advisory lock keeps several app processes starting together
    from migrating at once.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with db.write_engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(7744201)"))
            conn.commit()
        try:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        finally:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_unlock(7744201)"))
                conn.commit()
