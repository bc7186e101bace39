"""A vault on a read-only disk reads, and refuses changes clearly; a vault from a newer
release is refused before anything is copied or changed (issue 15, items 5 and 6)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.cli.main import main
from workbench.core.errors import UsageError
from workbench.vault import Vault

from .conftest import make_content


@contextlib.contextmanager
def read_only_copy(vault_file: Path, where: Path) -> Iterator[Path]:
    """``vault_file`` copied into a folder nobody may write: a read-only bind mount as
    root (a real read-only file system), else a folder and file without write
    permission."""
    src = where / "src"
    src.mkdir()
    shutil.copy(vault_file, src / "v.sqlite3")
    mounted = where / "ro"
    mounted.mkdir()
    if os.geteuid() == 0:
        bind = subprocess.run(["mount", "--bind", str(src), str(mounted)], capture_output=True)
        if bind.returncode == 0:
            try:
                subprocess.run(
                    ["mount", "-o", "remount,ro,bind", str(mounted)],
                    check=True,
                    capture_output=True,
                )
                yield mounted / "v.sqlite3"
            finally:
                subprocess.run(["umount", str(mounted)], check=False)
            return
        pytest.skip("running as root without permission to mount: cannot make a read-only disk")
    os.chmod(src / "v.sqlite3", 0o444)
    os.chmod(src, 0o555)
    try:
        yield src / "v.sqlite3"
    finally:
        os.chmod(src, 0o755)


def test_a_read_only_vault_reads_and_refuses_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = tmp_path / "v.sqlite3"
    with Vault.open(original, create=True, actor="ada") as vault:
        vault.commit("a/one", make_content(), "first")
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    with read_only_copy(original, tmp_path) as ro:
        with pytest.raises(OSError, match=r"Read-only file system|Permission denied"):
            (ro.parent / "probe").write_text("x")  # really cannot be written
        for argv in (["vault", "list"], ["vault", "show", "a/one"], ["vault", "verify"]):
            capsys.readouterr()
            assert main(["--vault", str(ro), *argv]) == 0, capsys.readouterr().err
        with Vault.open(ro) as vault:
            assert vault.read_only and [v.message for v in vault.history("a/one")] == ["first"]
            with pytest.raises(UsageError, match="is read-only") as refused:
                vault.commit("a/two", make_content(), "x")
            assert "Copy it somewhere you can write" in refused.value.hint
        capsys.readouterr()
        (tmp_path / "p.yaml").write_text("messages:\n  - role: user\n    content: hi\n")
        code = main(
            ["--vault", str(ro), "commit", "a/two", "-f", str(tmp_path / "p.yaml"), "-m", "x"]
        )
        err = capsys.readouterr().err
        assert code == 2 and "is read-only" in err and "a bug" not in err
        assert sorted(p.name for p in ro.parent.iterdir()) == ["v.sqlite3"]  # nothing beside


def test_a_vault_from_a_newer_release_is_refused_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v.sqlite3"
    with Vault.open(path, create=True, actor="ada") as vault:
        vault.commit("a/one", make_content(), "first")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    before = path.read_bytes()
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    for argv in (["vault", "list"], ["doctor"]):
        capsys.readouterr()
        code = main(["--vault", str(path), *argv])
        captured = capsys.readouterr()
        text = captured.out + captured.err
        assert code in (1, 2) and "newer Prompt Workbench (vault schema 0099" in text, text
        assert "a bug" not in text and "Traceback" not in text
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.bak"))  # no copy made by a failed attempt


def test_a_full_disk_writes_nothing_and_says_so(tmp_path: Path) -> None:
    """SQLite's own "database or disk is full" (its page limit reached, as a full disk
    does): the commit is refused with what to do, and the vault is as it was."""
    from sqlalchemy import event

    path = tmp_path / "v.sqlite3"
    with Vault.open(path, create=True, actor="ada") as vault:
        vault.commit("a/one", make_content(), "first")
        pages = vault.engine.connect().exec_driver_sql("PRAGMA page_count").scalar()

        def cap(dbapi_conn, _record) -> None:
            dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

        event.listen(vault.engine, "connect", cap)
        vault.engine.dispose()  # new connections, each with the cap
        big = make_content(system="x " * 200_000)
        with pytest.raises(UsageError, match="is full: nothing was written") as refused:
            vault.commit("a/two", big, "too big for the disk")
        assert "Free some space" in refused.value.hint
        assert [p.name for p in vault.list_prompts()] == ["a/one"]
        assert vault.integrity_check() == "ok" and vault.verify_audit() is None
