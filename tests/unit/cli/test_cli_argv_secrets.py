"""A value typed where none belongs is never echoed back (issue 15, item 12): argparse
repeats extra arguments in its error, and `workbench key set k1 sk-...` would put the
key into the terminal's scrollback and CI logs. A real process, as a person runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SECRET = "sk-thisIsAKey0123456789abcdef"
PLAIN_SECRET = "hunter2-correct-horse"  # not shaped like a key: still never shown


def _run(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(
        [sys.executable, "-m", "workbench", *argv],
        capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.parametrize("value", [SECRET, PLAIN_SECRET])
def test_key_set_with_the_key_on_the_command_line_never_echoes_it(
    tmp_path: Path, value: str
) -> None:
    done = _run(tmp_path, "key", "set", "k1", value)
    assert done.returncode == 2
    assert value not in done.stdout + done.stderr
    assert "1 unexpected value (not shown: a value may be a secret)" in done.stderr
    assert "`workbench key set NAME` asks for the key, or reads it from stdin" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_options_are_still_named(tmp_path: Path) -> None:
    done = _run(tmp_path, "vault", "list", "--bogus", PLAIN_SECRET)
    assert done.returncode == 2
    assert "unrecognized option --bogus" in done.stderr
    assert PLAIN_SECRET not in done.stderr and "1 unexpected value" in done.stderr
