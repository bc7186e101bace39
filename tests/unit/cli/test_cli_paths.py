"""Paths a person gets wrong are their mistake to fix, not a bug (issue 15, item 5):
a folder given for a file, a folder that does not exist, a place that cannot be
written. Each says which path and what to do, exits 2, and leaves no temporary file."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from tests.unit.cli.home import make_home
from workbench.cli.main import main
from workbench.core.files import os_problem


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_home(tmp_path, monkeypatch)
    (tmp_path / "a_folder").mkdir()
    assert main(["commit", "a/one", "-f", "p.yaml", "-m", "first"]) == 0
    return tmp_path


def _run_id(capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["compare", "a/one", "--models", "echo:echo"]) == 0
    capsys.readouterr()
    assert main(["runs", "list", "--json"]) == 0
    return str(json.loads(capsys.readouterr().out)[0]["id"])


@pytest.mark.parametrize(
    ("argv", "path", "hint"),
    [
        (["vault", "import", "a_folder"], "a_folder", "That is a folder"),
        (["vault", "export", "-o", "a_folder"], "a_folder", "That is a folder"),
        (["vault", "export", "-o", "/proc/x.json"], "/proc/x.json", "does not exist"),
        (["eval", "a/one", "--models", "echo:echo", "--junit", "a_folder"], "a_folder",
         "That is a folder"),
        (["runs", "chart", "RUN", "-o", "no_such_dir/x.png"], "no_such_dir/x.png",
         "does not exist"),
    ],
)  # fmt: skip
def test_a_wrong_path_is_a_clear_error_not_a_bug(
    env: Path, capsys: pytest.CaptureFixture[str], argv: list[str], path: str, hint: str
) -> None:
    if "RUN" in argv:
        argv = [_run_id(capsys) if a == "RUN" else a for a in argv]
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"cannot use {path}:" in err and hint in err
    assert "a bug" not in err and "Traceback" not in err
    assert not [p for p in env.rglob(".*.tmp")]  # no temporary file left behind


def test_full_and_read_only_disks_say_what_to_do() -> None:
    full = os_problem(OSError(errno.ENOSPC, "No space left on device", "/v/vault.json"))
    assert full is not None and "disk is full" in full.hint and "/v/vault.json" in full.message
    ro = os_problem(OSError(errno.EROFS, "Read-only file system", "/mnt/x"))
    assert ro is not None and "read-only" in ro.hint and ro.exit_code == 2
    assert os_problem(OSError(errno.ECONNRESET, "reset")) is None  # not a path problem
