"""Reading each kind of data source against real parts: CSV and JSON files, a SQLite
file opened read-only (a query that writes fails clearly and changes nothing), a
PostgreSQL database in a read-only transaction, and an HTTP server on 127.0.0.1 whose
credential comes from a real keychain."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sourceapi import TOKEN, ApiServer, serve_api
from workbench.app.source_read import read_source
from workbench.core.errors import SourceError, SourceUnavailableError
from workbench.core.sources import SourceDefinition
from workbench.secrets import KeyringStore


def _none(_entry: str) -> str | None:
    return None


def test_csv_rows_and_columns(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("id,email,tier\n1,ada@example.com,gold\n2,bob@example.com,\n")
    rows = read_source("crm", SourceDefinition(kind="csv", path=str(path)), {}, _none)
    assert rows.columns == ["id", "email", "tier"]
    assert rows.rows[1] == {"id": "2", "email": "bob@example.com", "tier": ""}
    with pytest.raises(SourceUnavailableError, match=r"data source 'crm' .* is not there"):
        read_source("crm", SourceDefinition(kind="csv", path=str(tmp_path / "gone.csv")), {}, _none)
    path.write_text("id,email\n1,a,extra\n")
    with pytest.raises(SourceError, match="more cells than the header"):
        read_source("crm", SourceDefinition(kind="csv", path=str(path)), {}, _none)


def test_json_records_at_a_path(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"data": {"customers": [{"id": 1, "plan": "pro"}, {"id": 2}]}}))
    definition = SourceDefinition(kind="json", path=str(path), record_path="data.customers")
    rows = read_source("crm", definition, {}, _none)
    assert rows.columns == ["id", "plan"] and rows.rows[0] == {"id": 1, "plan": "pro"}
    wrong = SourceDefinition(kind="json", path=str(path), record_path="data.people")
    with pytest.raises(SourceError, match=r"the document has no 'data\.people'"):
        read_source("crm", wrong, {}, _none)
    path.write_text("{not json")
    with pytest.raises(SourceError, match="invalid at line 1"):
        read_source("crm", definition, {}, _none)


def _crm(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, credit REAL);"
        "INSERT INTO customers VALUES (1, 'ada@example.com', 12.5), (2, 'bob@example.com', 0);"
    )
    conn.commit()
    conn.close()


def _dump(path: Path) -> list[Any]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT * FROM customers ORDER BY id").fetchall()
    finally:
        conn.close()


def test_sqlite_query_binds_parameters_from_variables(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    _crm(db)
    definition = SourceDefinition(
        kind="sql",
        url=f"sqlite:///{db}",
        query="SELECT email, credit FROM customers WHERE id = :cid",
    )
    rows = read_source("crm", definition, {"cid": 2}, _none)
    assert rows.columns == ["email", "credit"] and rows.rows == [
        {"email": "bob@example.com", "credit": 0.0}
    ]
    # A value is bound, never formatted into the SQL: an injection finds nothing.
    assert read_source("crm", definition, {"cid": "1 OR 1=1"}, _none).rows == []
    with pytest.raises(SourceError, match="needs a value for cid"):
        read_source("crm", definition, {}, _none)


@pytest.mark.parametrize(
    "query",
    [
        "DELETE FROM customers WHERE id = :cid",
        "UPDATE customers SET email = 'x' WHERE id = :cid",
        "INSERT INTO customers (id, email) SELECT :cid + 10, 'x'",
        "WITH gone AS (SELECT 1) DELETE FROM customers WHERE id = :cid",
    ],
)
def test_sqlite_source_refuses_to_write_and_changes_nothing(tmp_path: Path, query: str) -> None:
    db = tmp_path / "crm.db"
    _crm(db)
    before = _dump(db)
    definition = SourceDefinition(kind="sql", url=f"sqlite:///{db}", query=query)
    with pytest.raises(SourceError, match="was asked to write") as caught:
        read_source("crm", definition, {"cid": 1}, _none)
    assert "nothing was changed" in str(caught.value)
    assert "SELECT" in caught.value.hint
    assert _dump(db) == before
    assert not Path(f"{db}-journal").exists()


def test_postgres_source_runs_in_a_read_only_transaction(pg_url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id int primary key, email text)"))
        conn.execute(text("INSERT INTO customers VALUES (1, 'ada@example.com')"))
    read = SourceDefinition(
        kind="sql", url=pg_url, query="SELECT email FROM customers WHERE id = CAST(:cid AS int)"
    )
    assert read_source("crm", read, {"cid": "1"}, _none).rows == [{"email": "ada@example.com"}]
    write = SourceDefinition(
        kind="sql", url=pg_url, query="DELETE FROM customers WHERE id = :cid RETURNING id"
    )
    with pytest.raises(SourceError, match="was asked to write"):
        read_source("crm", write, {"cid": 1}, _none)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM customers")).scalar() == 1
    engine.dispose()


def test_a_database_password_comes_from_the_credential_and_is_never_shown(
    pg_url: str,
) -> None:
    import socket

    secret = "db-pass-" + "9f3a" * 4
    asked: list[str] = []

    def lookup(entry: str) -> str | None:
        asked.append(entry)
        return secret if entry == "crm-db" else None

    ok = SourceDefinition(kind="sql", url=pg_url, query="SELECT 1 AS one", credential="crm-db")
    assert read_source("crm", ok, {}, lookup).rows == [{"one": 1}]  # trust auth: accepted
    assert asked == ["crm-db"]
    assert secret not in ok.model_dump_json()
    gone = ok.model_copy(update={"credential": "other"})
    with pytest.raises(SourceError, match="keychain entry 'other', which holds nothing"):
        read_source("crm", gone, {}, lookup)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        dead = SourceDefinition(
            kind="sql", url=f"postgresql+psycopg://app@127.0.0.1:{port}/crm",
            query="SELECT 1", credential="crm-db",
        )  # fmt: skip
        with pytest.raises(SourceUnavailableError, match="could not be reached") as caught:
            read_source("crm", dead, {}, lookup)
    assert secret not in str(caught.value) and secret not in caught.value.hint


@pytest.fixture
def api() -> Iterator[ApiServer]:
    with serve_api() as server:
        yield server


def test_http_source_fills_the_url_encoded_and_sends_the_keychain_credential(
    api: ApiServer, secret_service: KeyringStore
) -> None:
    secret_service.set("crm-api", TOKEN)
    definition = SourceDefinition(
        kind="http", url=api.url + "/customers/{who}", record_path="items", credential="crm-api"
    )
    rows = read_source("crm", definition, {"who": "Ada L/ove?x=1"}, secret_service.get)
    assert rows.rows == [{"name": "Ada L/ove?x=1", "plan": "pro"}]
    assert api.seen[-1] == ("/customers/Ada%20L%2Fove%3Fx%3D1", f"Bearer {TOKEN}")
    assert TOKEN not in definition.model_dump_json()  # the definition names the entry only
    secret_service.set("crm-api", "wrong-" + TOKEN)
    with pytest.raises(SourceError, match=r"refused the credential \(HTTP 401\)") as refused:
        read_source("crm", definition, {"who": "ada"}, secret_service.get)
    assert "workbench key set crm-api" in refused.value.hint
    secret_service.delete("crm-api")
    with pytest.raises(SourceError, match="keychain entry 'crm-api', which holds nothing"):
        read_source("crm", definition, {"who": "ada"}, secret_service.get)


def test_http_source_unreachable_or_failing_is_a_could_not_run_error(
    api: ApiServer, secret_service: KeyringStore
) -> None:
    secret_service.set("crm-api", TOKEN)
    broken = SourceDefinition(kind="http", url=api.url + "/broken", credential="crm-api")
    with pytest.raises(SourceUnavailableError, match=r"failed \(HTTP 503\)"):
        read_source("crm", broken, {}, secret_service.get)
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]  # bound, never listening: refused
        gone = SourceDefinition(kind="http", url=f"http://127.0.0.1:{dead}/c/{{who}}")
        with pytest.raises(SourceUnavailableError, match="could not be reached") as caught:
            read_source("crm", gone, {"who": "secret-name"}, _none)
    assert "secret-name" not in str(caught.value)  # the template is named, not the URL
