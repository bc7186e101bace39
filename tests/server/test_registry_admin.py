"""Admin commands, the audit chain under tampering, token secrecy, and the schema."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.server.conftest import RunningRegistry, make_version, running_registry
from workbench.cli.main import main
from workbench.registry.schemas import LabelTarget
from workbench.registry.server.config import RegistrySettings
from workbench.registry.server.db import open_database
from workbench.registry.server.service import RegistryService
from workbench.registry.server.tables import Base


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_user_lifecycle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'reg.sqlite3'}"
    code, out, _ = _cli(
        capsys, "registry", "user", "add", "dave", "--role", "reviewer", "--db", url, "--json"
    )
    assert code == 0
    token = json.loads(out)["token"]
    service = RegistryService(open_database(url), RegistrySettings(db_url=url))
    try:
        assert service.authenticate(token).role == "reviewer"
        code, _, err = _cli(
            capsys, "registry", "user", "add", "dave", "--role", "author", "--db", url
        )
        assert code == 2
        assert "already exists" in err
        code, out, _ = _cli(capsys, "registry", "token", "rotate", "dave", "--db", url, "--json")
        assert code == 0
        new_token = json.loads(out)["token"]
        assert new_token != token
        with pytest.raises(Exception, match="not valid"):
            service.authenticate(token)
        assert service.authenticate(new_token).name == "dave"
        code, _, _ = _cli(capsys, "registry", "user", "disable", "dave", "--db", url)
        assert code == 0
        with pytest.raises(Exception, match="disabled"):
            service.authenticate(new_token)
        code, _, err = _cli(capsys, "registry", "token", "rotate", "nobody", "--db", url)
        assert code == 2
        assert "no user named nobody" in err
        code, out, _ = _cli(capsys, "registry", "audit", "verify", "--db", url)
        assert code == 0
        assert "intact: 3 entries" in out
    finally:
        service.db.dispose()


@pytest.fixture
def sqlite_registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    with running_registry(RegistrySettings(db_url=url)) as reg:
        yield reg


def _populate(reg: RunningRegistry) -> None:
    alice, bob, carol = (reg.client(u) for u in ("alice", "bob", "carol"))
    v = alice.push_version(make_version()).version
    bob.review(v.id, decision="approve", content_hash=v.content_hash)
    carol.move_label(
        "support/reply",
        "production",
        target=LabelTarget(version_id=v.id),
        expected=None,
        reason="release",
    )


@pytest.mark.parametrize("tamper", ["edit", "delete_middle", "delete_last"])
def test_audit_verify_detects_tampering(
    sqlite_registry: RunningRegistry, tamper: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _populate(sqlite_registry)
    assert sqlite_registry.service.verify_audit().ok
    with sqlite_registry.db.write_engine.begin() as conn:
        last = conn.execute(sa.text("SELECT max(seq) FROM audit_log")).scalar_one()
        if tamper == "edit":
            conn.execute(
                sa.text("UPDATE audit_log SET actor = 'mallory' WHERE action = 'label.move'")
            )
        elif tamper == "delete_middle":
            conn.execute(sa.text("DELETE FROM audit_log WHERE seq = :s"), {"s": last - 1})
        else:
            conn.execute(sa.text("DELETE FROM audit_log WHERE seq = :s"), {"s": last})
    report = sqlite_registry.service.verify_audit()
    assert not report.ok
    expected = {"edit": "changed", "delete_middle": "missing", "delete_last": "removed"}[tamper]
    assert any(expected in p for p in report.problems), report.problems
    code, out, _ = _cli(capsys, "registry", "audit", "verify", "--db", sqlite_registry.db.url)
    assert code == 1
    assert "BROKEN" in out


def test_tokens_never_reach_the_database_or_the_logs(sqlite_registry: RunningRegistry) -> None:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    watched = ["workbench.registry", "uvicorn", "sqlalchemy.engine"]
    old_levels = {name: logging.getLogger(name).level for name in watched}
    root.addHandler(handler)
    for name in watched:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        _populate(sqlite_registry)
        token = sqlite_registry.tokens["carol"]
        with httpx.Client(base_url=sqlite_registry.url, auth=("carol", token)) as basic:
            assert basic.get("/api/public/v2/prompts/support/reply").status_code == 200
        with httpx.Client(
            base_url=sqlite_registry.url, headers={"Authorization": f"Bearer {token}x"}
        ) as wrong:
            assert wrong.get("/api/v1/whoami").status_code == 401
    finally:
        root.removeHandler(handler)
        for name, level in old_levels.items():
            logging.getLogger(name).setLevel(level)
    logged = buffer.getvalue()
    assert "/api/public/v2/prompts/support/reply 200" in logged  # the access log did run
    assert "SELECT" in logged  # and so did SQL logging
    db_path = Path(sqlite_registry.db.url.removeprefix("sqlite:///"))
    stored = b"".join(
        p.read_bytes() for p in db_path.parent.glob(db_path.name + "*") if p.is_file()
    )
    for user, secret in sqlite_registry.tokens.items():
        assert secret not in logged, user
        assert secret.encode() not in stored, user


def test_migrations_match_the_models(db_url: str) -> None:
    db = open_database(db_url)
    try:
        open_database(db_url).dispose()  # a second start-up migrates nothing and fails nothing
        with db.write_engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(
                    conn, opts={"version_table": "registry_alembic_version"}
                ),
                Base.metadata,
            )
        assert diff == []
    finally:
        db.dispose()
