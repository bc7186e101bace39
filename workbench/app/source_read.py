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
    missing = [p for p in definition.parameters() if params.get(p) in (None, "")]
    if missing:
        raise SourceError(
            f"data source {name!r} needs a value for {', '.join(missing)}",
            hint="Give it in the test case, with --var NAME=VALUE, or as a default.",
        )
    if definition.kind == "csv":
        return _csv(name, Path(str(definition.path)))
    if definition.kind == "json":
        return _records(name, _json_file(name, Path(str(definition.path))), definition)
    if definition.kind == "sql":
        return _sql(name, definition, params, credential)
    return _http(name, definition, params, credential)


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


def _sql(
    name: str, definition: SourceDefinition, params: Mapping[str, Any], credential: CredentialLookup
) -> Rows:
    from sqlalchemy import create_engine, event, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
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
    sqlite = url.get_backend_name() == "sqlite"
    try:
        if sqlite:
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
                "sqlite+pysqlite://",
                creator=lambda: sqlite3.connect(uri, uri=True),
                poolclass=NullPool,
            )

            @event.listens_for(engine, "connect")
            def _query_only(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.execute("PRAGMA query_only = ON")
        else:
            engine = create_engine(url, poolclass=NullPool)
    except (NoSuchModuleError, ImportError) as exc:
        raise SourceError(
            f"data source {name!r}: no driver for {url.drivername!r} is installed",
            hint="Install the database's driver (e.g. pip install 'psycopg[binary]').",
        ) from exc
    bound = {p: params[p] for p in definition.parameters()}
    try:
        with engine.connect() as conn:
            trans = conn.begin()
            try:
                if not sqlite:
                    conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                result = conn.execute(text(str(definition.query)), bound)
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
    except DBAPIError as exc:
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        if any(w in detail.lower() for w in WRITE_WORDS):
            raise _writes(name) from exc
        if exc.connection_invalidated or "connect" in detail.lower():
            raise SourceUnavailableError(
                f"data source {name!r}: the database could not be reached ({detail})",
                hint="Check that it runs and the URL is right, then run again.",
            ) from exc
        raise SourceError(
            f"data source {name!r}: the query failed: {detail}",
            hint=f"Fix the query (workbench source edit {name} --query ...); parameters are "
            "written :name and bound from the prompt's variables.",
        ) from exc
    except SQLAlchemyError as exc:
        raise SourceError(f"data source {name!r}: the query failed: {exc}") from exc
    finally:
        engine.dispose()
    return Rows(columns, rows)


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
    name: str, definition: SourceDefinition, params: Mapping[str, Any], credential: CredentialLookup
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
        answer = httpx.get(url, headers=headers, timeout=HTTP_TIMEOUT_S, follow_redirects=False)
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
