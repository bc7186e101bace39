"""``INSERT ... ON CONFLICT DO UPDATE`` on SQLite and PostgreSQL alike.

Both dialects have the statement (SQLite since 3.24); only the import differs. An
upsert that adds to counters is atomic in the database, so concurrent ingest
requests (several workers on one PostgreSQL) never lose an update and need no lock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table
from sqlalchemy.orm import Session


def upsert(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
    update: Callable[[Any], dict[str, ColumnElement[Any]]],
) -> None:
    """Insert ``rows``; where one collides on ``key``, set ``update(excluded)`` instead.
    ``rows`` are written in the order given (sort them to keep lock order stable)."""
    if not rows:
        return
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        pg = pg_insert(table)
        stmt: Any = pg.on_conflict_do_update(index_elements=list(key), set_=update(pg.excluded))
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        lite = sqlite_insert(table)
        stmt = lite.on_conflict_do_update(index_elements=list(key), set_=update(lite.excluded))
    session.execute(stmt, list(rows))
