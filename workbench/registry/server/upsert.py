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


def insert_new(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], key: Sequence[str]
) -> set[tuple[Any, ...]]:
    """Insert the ``rows`` whose ``key`` is not taken (``ON CONFLICT DO NOTHING``) and
    return the keys of those inserted: one statement batch, no read before, and no
    race between two transactions inserting the same key."""
    if not rows:
        return set()
    bind = session.get_bind()
    columns = [table.c[k] for k in key]
    if bind.dialect.name == "postgresql":
        return _insert_new_unnest(session, table, rows, key)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=list(key))
    result = session.execute(stmt.returning(*columns), list(rows))
    return {tuple(row) for row in result}


_PG_ARRAY_TYPES = {
    "VARCHAR": "text[]",
    "TEXT": "text[]",
    "INTEGER": "int4[]",
    "BIGINT": "int8[]",
    "FLOAT": "float8[]",
    "UUID": "uuid[]",
    "DATETIME": "timestamp[]",
    "TIMESTAMP WITHOUT TIME ZONE": "timestamp[]",
}


def _insert_new_unnest(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], key: Sequence[str]
) -> set[tuple[Any, ...]]:
    """PostgreSQL: one ``INSERT ... SELECT FROM unnest(arrays)`` with one parameter per
    column. The multi-row VALUES form SQLAlchemy renders for RETURNING has a parameter
    per cell (4,400 for 200 spans), and psycopg spent more time converting that query
    than the server spent running it (measured with the telemetry bench)."""
    from sqlalchemy import text

    from workbench.registry.server.tables import UTCDateTime

    dialect = session.get_bind().dialect
    names = list(rows[0])
    casts = []
    params: dict[str, list[Any]] = {}
    for i, name in enumerate(names):
        column = table.c[name]
        values = [row[name] for row in rows]
        if isinstance(column.type, UTCDateTime):
            values = [column.type.process_bind_param(v, dialect) for v in values]
            kind = "timestamp[]"
        else:
            kind = _PG_ARRAY_TYPES[column.type.compile(dialect=dialect).split("(")[0]]
        params[f"p{i}"] = values
        casts.append(f"CAST(:p{i} AS {kind})")
    quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in names)
    keys = ", ".join(dialect.identifier_preparer.quote(k) for k in key)
    # Only the table's own identifiers (quoted) are spliced in; every value is a parameter.
    target = dialect.identifier_preparer.format_table(table)
    into = f"INSERT INTO {target} ({quoted})"
    sql = f"{into} SELECT * FROM unnest({', '.join(casts)}) "  # noqa: S608
    sql += f"ON CONFLICT ({keys}) DO NOTHING RETURNING {keys}"
    return {tuple(row) for row in session.execute(text(sql), params)}
