"""Reading a data source once: rows and column names from a CSV or JSON file, a SQL
query over a database opened read-only, or an HTTP GET.

Read-only is enforced by the database, not by looking at the query: a SQLite file is
opened with ``mode=ro`` and ``PRAGMA query_only``; any other database runs the query
in a ``SET TRANSACTION READ ONLY`` transaction that is always rolled back. The query's
``:name`` parameters are bound by the driver from the prompt's variables, never
formatted into the text; an HTTP source's URL places are filled URL-encoded.

Errors name the source and what to do, never a value read or a variable's value
(either may be sensitive): an HTTP error names the URL template, not the URL.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from workbench.core.errors import SourceError, SourceUnavailableError
from workbench.core.sources import SourceDefinition, columns_of

MAX_ROWS = 10_000
"""A read returns at most this many rows (a source is for parameters, not bulk data)."""
HTTP_TIMEOUT_S = 10.0

CredentialLookup = Callable[[str], str | None]
"""The secret stored under a keychain entry's name (None: nothing stored)."""


@dataclass
class Rows:
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)


def read_source(
    name: str,
    definition: SourceDefinition,
    params: Mapping[str, Any],
    credential: CredentialLookup,
) -> Rows:
    """Read ``definition`` once with ``params`` (the variables it names)."""
    with SourceReader(credential) as reader:
        return reader.read(name, definition, params)


class SourceReader:
    """The reads of one run's preparation: a database source keeps one connection
    open between its reads (each in its own read-only transaction, rolled back), a
    file is parsed once; everything is closed at the end. Reading a SQLite source for
    1,000 cases opened 1,000 engines before (~1 ms each)."""

    def __init__(self, credential: CredentialLookup) -> None:
        self._lookup = credential
        self._secrets: dict[str, str | None] = {}
        self._http: Any = None
        self._files: dict[str, Rows] = {}
        self._seen: dict[int, tuple[SourceDefinition, str, list[str]]] = {}
        self._databases: dict[str, tuple[Any, Any, bool]] = {}  # hash -> engine, conn, sqlite

    def credential(self, entry: str) -> str | None:
        """A keychain entry's secret, asked once per pass (a keychain read costs ~35 ms
        and is audited: once, not once per case)."""
        if entry not in self._secrets:
            self._secrets[entry] = self._lookup(entry)
        return self._secrets[entry]

    def __enter__(self) -> SourceReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for key in list(self._databases):
            self._drop(key)
        self._files.clear()
        self._secrets.clear()
        if self._http is not None:
            self._http.close()
            self._http = None

    def _drop(self, key: str) -> None:
        engine, conn, _sqlite = self._databases.pop(key)
        try:
            conn.close()
        finally:
            engine.dispose()

    def read(self, name: str, definition: SourceDefinition, params: Mapping[str, Any]) -> Rows:
        key, names = self._known(definition)
        missing = [p for p in names if params.get(p) in (None, "")]
        if missing:
            raise SourceError(
                f"data source {name!r} needs a value for {', '.join(missing)}",
                hint="Give it in the test case, with --var NAME=VALUE, or as a default.",
            )
        if definition.kind in ("csv", "json"):
            if key not in self._files:
                path = Path(str(definition.path))
                self._files[key] = (
                    _csv(name, path)
                    if definition.kind == "csv"
                    else _records(name, _json_file(name, path), definition)
                )
            rows = self._files[key]
            return Rows(list(rows.columns), [dict(r) for r in rows.rows])
        if definition.kind == "sql":
            return self._sql(name, definition, key, {p: params[p] for p in names})
        if self._http is None:  # one client (its connections kept) for the pass's requests
            import httpx

            self._http = httpx.Client(timeout=HTTP_TIMEOUT_S, follow_redirects=False)
        return _http(name, definition, params, self.credential, self._http)

    def _known(self, definition: SourceDefinition) -> tuple[str, list[str]]:
        """The definition's hash and parameters, worked out once per definition."""
        found = self._seen.get(id(definition))
        if found is None or found[0] is not definition:
            found = self._seen[id(definition)] = (
                definition,
                definition.definition_hash(),
                definition.parameters(),
            )
        return found[1], found[2]

    def _sql(
        self, name: str, definition: SourceDefinition, key: str, bound: dict[str, Any]
    ) -> Rows:
        from sqlalchemy.exc import DBAPIError, SQLAlchemyError

        if key not in self._databases:
            engine, sqlite = _sql_engine(name, definition, self.credential)
            try:
                self._databases[key] = (engine, engine.connect(), sqlite)
            except DBAPIError as exc:
                engine.dispose()
                raise _db_error(name, exc) from exc
        _engine, conn, sqlite = self._databases[key]
        try:
            return _sql_query(name, conn, sqlite, str(definition.query), bound)
        except DBAPIError as exc:
            self._drop(key)  # the connection may be gone: the next read opens another
            raise _db_error(name, exc) from exc
        except SQLAlchemyError as exc:
            raise SourceError(f"data source {name!r}: the query failed: {exc}") from exc


def _open_error(name: str, path: Path, exc: OSError) -> SourceUnavailableError:
    why = "is not there" if isinstance(exc, FileNotFoundError) else f"cannot be read ({exc})"
    return SourceUnavailableError(
        f"the file of data source {name!r} ({path}) {why}",
        hint=f"Put the file back, or point the source at it: workbench source edit {name} "
        "--path FILE",
    )


def _csv(name: str, path: Path) -> Rows:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = list(reader.fieldnames or [])
            if not columns:
                raise SourceError(
                    f"the CSV file of data source {name!r} ({path}) has no header row",
                    hint="Its first row names the columns.",
                )
            rows = []
            for row in reader:
                if None in row:
                    raise SourceError(
                        f"the CSV file of data source {name!r} has a row with more cells "
                        "than the header has columns",
                        hint="Fix the file (a comma inside a value needs quotes).",
                    )
                rows.append(dict(row))
                if len(rows) > MAX_ROWS:
                    raise _too_many(name)
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"the CSV file of data source {name!r} ({path}) is not UTF-8 text",
            hint="Save it as UTF-8.",
        ) from exc
    except OSError as exc:
        raise _open_error(name, path, exc) from exc
    return Rows(columns, rows)


def _too_many(name: str) -> SourceError:
    return SourceError(
        f"data source {name!r} gave more than {MAX_ROWS:,} rows",
        hint="Narrow it (a WHERE in the query, a smaller file): a source gives parameters.",
    )


def _json_file(name: str, path: Path) -> Any:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise _open_error(name, path, exc) from exc
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"the JSON file of data source {name!r} is not UTF-8 text", hint="Save it as UTF-8."
        ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"the JSON file of data source {name!r} ({path}) is invalid at line {exc.lineno}, "
            f"column {exc.colno}: {exc.msg}",
            hint="Fix the file.",
        ) from exc


def _records(name: str, data: Any, definition: SourceDefinition) -> Rows:
    """The records at ``record_path`` in a JSON document: a list of objects (or one)."""
    walked = []
    for key in (definition.record_path or "").split(".") if definition.record_path else []:
        walked.append(key)
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, list) and key.isdigit() and int(key) < len(data):
            data = data[int(key)]
        else:
            raise SourceError(
                f"data source {name!r}: the document has no {'.'.join(walked)!r}",
                hint=f"Check its record path (now {definition.record_path!r}): "
                f"workbench source edit {name} --record-path KEYS",
            )
    records = data if isinstance(data, list) else [data]
    if not all(isinstance(r, dict) for r in records):
        raise SourceError(
            f"data source {name!r}: the records are not all objects (mappings of fields)",
            hint="Point --record-path at a list of objects, e.g. 'data.customers'.",
        )
    if len(records) > MAX_ROWS:
        raise _too_many(name)
    return Rows(columns_of(records), [dict(r) for r in records])


def _plain(value: Any) -> Any:
    """A database value as JSON-like data (numbers, text, booleans, None)."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


WRITE_WORDS = ("readonly", "read-only", "read only", "query_only", "attempt to write")


def _sql_engine(
    name: str, definition: SourceDefinition, credential: CredentialLookup
) -> tuple[Any, bool]:
    """An engine for the source's database, opened read-only for SQLite; and whether
    it is SQLite (other databases get a read-only transaction per query)."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError
    from sqlalchemy.pool import NullPool

    try:
        url = make_url(str(definition.url))
    except ArgumentError as exc:
        raise SourceError(
            f"data source {name!r}: {definition.url!r} is not a database URL",
            hint="e.g. sqlite:////data/crm.db or postgresql+psycopg://user@host/db",
        ) from exc
    if definition.credential:
        secret = credential(definition.credential)
        if secret is None:
            raise _no_credential(name, definition.credential)
        url = url.set(password=secret)
    if url.get_backend_name() != "sqlite":
        try:
            return create_engine(url, poolclass=NullPool), False
        except (NoSuchModuleError, ImportError) as exc:
            raise SourceError(
                f"data source {name!r}: no driver for {url.drivername!r} is installed",
                hint="Install the database's driver (e.g. pip install 'psycopg[binary]').",
            ) from exc
    if not url.database or url.database == ":memory:":
        raise SourceError(
            f"data source {name!r}: a SQLite source needs a database file",
            hint="e.g. --url sqlite:////absolute/path/crm.db",
        )
    path = Path(url.database)
    if not path.is_file():
        raise SourceUnavailableError(
            f"the database file of data source {name!r} ({path}) is not there",
            hint=f"Put it back, or: workbench source edit {name} --url sqlite:///FILE",
        )
    uri = f"{path.resolve().as_uri()}?mode=ro"
    engine = create_engine(
        "sqlite+pysqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=NullPool
    )

    @event.listens_for(engine, "connect")
    def _query_only(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA query_only = ON")

    return engine, True


def _sql_query(name: str, conn: Any, sqlite: bool, query: str, bound: dict[str, Any]) -> Rows:
    """One query in its own transaction, read-only and always rolled back. SQLite's
    own driver takes ``:name`` parameters as they are written, so its queries skip
    SQLAlchemy's statement layer (~0.1 ms a query; a read per case adds up)."""
    if sqlite:
        raw = conn.connection.dbapi_connection
        try:
            cursor = raw.execute(query, bound)
            if cursor.description is None:
                raise _writes(name)
            columns = [d[0] for d in cursor.description]
            records = cursor.fetchmany(MAX_ROWS + 1)
        except sqlite3.Error as exc:
            raise _sql_error(name, str(exc), invalidated=False) from exc
        finally:
            if raw.in_transaction:
                raw.rollback()
        if len(records) > MAX_ROWS:
            raise _too_many(name)
        return Rows(
            columns, [{c: _plain(v) for c, v in zip(columns, r, strict=True)} for r in records]
        )
    from sqlalchemy import text

    trans = conn.begin()
    try:
        if not sqlite:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        result = conn.execute(text(query), bound)
        if not result.returns_rows:
            raise _writes(name)
        columns = list(result.keys())
        rows = []
        for record in result:
            rows.append({c: _plain(v) for c, v in zip(columns, record, strict=True)})
            if len(rows) > MAX_ROWS:
                raise _too_many(name)
    finally:
        trans.rollback()
    return Rows(columns, rows)


def _db_error(name: str, exc: Any) -> SourceError:
    """SQLAlchemy's wrapper of a driver's error, said for people."""
    detail = str(exc.orig).strip() if exc.orig else type(exc).__name__
    return _sql_error(name, detail, invalidated=bool(exc.connection_invalidated))


def _sql_error(name: str, detail: str, invalidated: bool) -> SourceError:
    """A database's error said for people: a write refused, unreachable, or the query."""
    detail = (detail.strip().splitlines() or ["unknown error"])[0]
    if any(w in detail.lower() for w in WRITE_WORDS):
        return _writes(name)
    if invalidated or "connect" in detail.lower():
        return SourceUnavailableError(
            f"data source {name!r}: the database could not be reached ({detail})",
            hint="Check that it runs and the URL is right, then run again.",
        )
    return SourceError(
        f"data source {name!r}: the query failed: {detail}",
        hint=f"Fix the query (workbench source edit {name} --query ...); parameters are "
        "written :name and bound from the prompt's variables.",
    )


def _writes(name: str) -> SourceError:
    return SourceError(
        f"data source {name!r} was asked to write: its query changes data, and sources "
        "only read (the database was opened read-only; nothing was changed)",
        hint=f"Make its query a SELECT: workbench source edit {name} --query 'SELECT ...'",
    )


def _no_credential(name: str, entry: str) -> SourceError:
    return SourceError(
        f"data source {name!r} needs the keychain entry {entry!r}, which holds nothing",
        hint=f"Store it with: workbench key set {entry}",
    )


def fill_url(template: str, params: Mapping[str, Any]) -> str:
    """The URL with each ``{name}`` replaced by the URL-encoded value."""
    return template.format_map({k: quote(str(v), safe="") for k, v in params.items()})


def _http(
    name: str,
    definition: SourceDefinition,
    params: Mapping[str, Any],
    credential: CredentialLookup,
    client: Any,
) -> Rows:
    import httpx

    template = str(definition.url)
    url = fill_url(template, {p: params[p] for p in definition.parameters()})
    headers = {"Accept": "application/json"}
    if definition.credential:
        secret = credential(definition.credential)
        if secret is None:
            raise _no_credential(name, definition.credential)
        header = definition.header
        headers[header] = f"Bearer {secret}" if header.lower() == "authorization" else secret
    try:
        answer = client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise SourceUnavailableError(
            f"data source {name!r} ({template}) could not be reached: {type(exc).__name__}",
            hint="Check that the server runs and the URL is right, then run again.",
        ) from None  # the exception's text holds the filled URL (values)
    if answer.status_code in (401, 403):
        raise SourceError(
            f"data source {name!r} ({template}) refused the credential (HTTP {answer.status_code})",
            hint=f"Store the right one: workbench key set {definition.credential or 'NAME'}"
            + ("" if definition.credential else f" and workbench source edit {name} --credential"),
        )
    if answer.status_code >= 500:
        raise SourceUnavailableError(
            f"data source {name!r} ({template}) failed (HTTP {answer.status_code})",
            hint="The server has a problem; run again later.",
        )
    if answer.status_code >= 300:
        raise SourceError(
            f"data source {name!r} ({template}) answered HTTP {answer.status_code}",
            hint="Check the URL template and the values it is filled with.",
        )
    try:
        data = answer.json()
    except ValueError as exc:
        raise SourceError(
            f"data source {name!r} ({template}) did not answer JSON",
            hint="An http source reads a JSON answer (a list of objects, or one).",
        ) from exc
    return _records(name, data, definition)
