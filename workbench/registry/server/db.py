"""Engines, sessions and start-up migrations for the registry database.

SQLite (the zero set-up default) runs in WAL mode so readers never wait for the
writer; write transactions start with ``BEGIN IMMEDIATE`` so two writers queue on
SQLite's lock instead of failing half-way with "database is locked". Before that,
writers queue in :class:`WriterQueue` (a thread lock plus an ``flock`` on a file
beside the database), which wakes the next writer the moment the last one commits,
in this process or another one. PostgreSQL writers serialise on the
``registry_head`` row (``SELECT ... FOR UPDATE``) instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from workbench.core.errors import UsageError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0


def default_db_url() -> str:
    """A SQLite file in the platform data directory: ``workbench registry serve`` needs nothing."""
    from workbench.core.paths import data_dir as app_data_dir

    data_dir = app_data_dir()  # honours WORKBENCH_DATA_DIR, like the vault
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


class WriterQueue:
    """Queues SQLite writers so that SQLite's busy handler never has to.

    SQLite's busy handler sleeps in steps of up to 100 ms, which turned write
    contention into multi-second tails. Threads of one process queue on a lock;
    processes (``serve --workers N`` on one file) queue on an ``flock`` of
    ``DB-FILE.writer-lock``, which the kernel hands to the next waiter at once.
    Where ``flock`` is missing (Windows) or there is no file, the thread lock alone
    queues this process and SQLite's busy timeout covers the rest.
    """

    def __init__(self, lock_path: Path | None) -> None:
        self._thread_lock = threading.Lock()
        self._lock_path = lock_path if sys.platform != "win32" else None
        self._fd: int | None = None
        self._fd_pid = 0

    def _file(self) -> int | None:
        if self._lock_path is None:
            return None
        if self._fd is None or self._fd_pid != os.getpid():  # a forked child opens its own
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            self._fd_pid = os.getpid()
        return self._fd

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            fd = self._file()
            if fd is not None:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *_exc: object) -> None:
        try:
            if self._fd is not None and self._fd_pid == os.getpid():
                import fcntl

                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def close(self) -> None:
        if self._fd is not None and self._fd_pid == os.getpid():
            os.close(self._fd)
        self._fd = None


@dataclass
class Database:
    """The registry's engines: one for reads, one for writes (the same on PostgreSQL)."""

    url: str
    read_engine: Engine
    write_engine: Engine
    _sqlite_writer: WriterQueue = field(default_factory=lambda: WriterQueue(None))

    @property
    def is_sqlite(self) -> bool:
        return self.read_engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        with Session(self.read_engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextlib.contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A plain connection in one read transaction: the hot read paths use it because
        an ORM session costs more than the two indexed lookups they make."""
        with self.read_engine.connect() as conn, conn.begin():
            yield conn

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
        self._sqlite_writer.close()
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
    writers = WriterQueue(None)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            db_file = Path(parsed.database).expanduser().resolve()
            if not db_file.parent.is_dir():
                raise UsageError(
                    f"the directory for the registry database does not exist: {db_file.parent}",
                    hint="Create it first, or pass another --db URL.",
                )
            writers = WriterQueue(db_file.with_name(db_file.name + ".writer-lock"))
        read_engine = _sqlite_engine(url, immediate=False)
        write_engine = _sqlite_engine(url, immediate=True)
    elif parsed.get_backend_name() == "postgresql":
        read_engine = write_engine = create_engine(url, pool_size=20, max_overflow=20)
    else:
        raise UsageError(
            f"unsupported database {parsed.get_backend_name()!r}",
            hint="The registry runs on SQLite or PostgreSQL.",
        )
    db = Database(
        url=url, read_engine=read_engine, write_engine=write_engine, _sqlite_writer=writers
    )
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
