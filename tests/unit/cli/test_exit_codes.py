"""The exit-code contract (issue 15, items 11 and 14): 0 ok; 1 the thing checked
failed; 2 usage, configuration or input error; 3 could not run. A CI script can tell
"regressed" from "could not run", and JUnit tells a failure from an error."""

from __future__ import annotations

import socket
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.unit.cli.home import make_home
from workbench.cli.main import main

PASSING = "name,assert:contains\nada,Hello\n"
FAILING = "name,assert:contains\nada,Goodbye\n"


def _closed_port() -> int:
    """A port on 127.0.0.1 with nobody listening (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_home(tmp_path, monkeypatch)
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    (tmp_path / "pass.csv").write_text(PASSING)
    (tmp_path / "fail.csv").write_text(FAILING)
    (tmp_path / "bad.yaml").write_text("- name: x\n  values: [1\n")
    assert main(["commit", "greet", "-f", "p.yaml", "-m", "first"]) == 0
    dead = f"http://127.0.0.1:{_closed_port()}/v1"
    assert main(["provider", "add", "dead", "--family", "openai", "--base-url", dead]) == 0
    assert (
        main(["provider", "add", "nokey", "--family", "openai", "--base-url", dead,
              "--key-env", "NO_SUCH_KEY_VAR"])
        == 0
    )  # fmt: skip
    return tmp_path


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["eval", "greet", "--models", "echo:echo", "--cases", "pass.csv"], 0),
        (["eval", "greet", "--models", "echo:echo", "--cases", "fail.csv"], 1),
        (["compare", "greet", "--models", "echo:echo", "--cases", "fail.csv"], 0),  # no gate
        (["compare", "greet", "--models", "dead:x", "--cases", "pass.csv"], 3),
        (["eval", "nope", "--models", "echo:echo"], 2),
        (["compare", "nope", "--models", "echo:echo"], 2),
        (["vault", "show", "nope"], 2),
        (["runs", "show", "00000000"], 2),
        (["cases", "show", "nope"], 2),
        (["eval", "greet", "--models", "echo:echo", "--cases", "bad.yaml"], 2),
        (["eval", "greet", "--models", "echo:echo", "--cases", "missing.csv"], 2),
        (["commit", "greet", "-f", "missing.yaml", "-m", "x"], 2),
        (["eval", "greet", "--models", "echo:echo", "--min-pass-rate", "1.5"], 2),
        (["eval", "greet", "--models", "echo:echo", "--min-pass-rate", "-1"], 2),
        (["eval", "greet", "--models", "nobody:x"], 2),
        (["eval", "greet", "--models", "dead:x", "--cases", "pass.csv"], 3),
        (["eval", "greet", "--models", "nokey:x", "--cases", "pass.csv"], 3),
    ],
)
def test_every_outcome_has_its_code(
    env: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int
) -> None:
    try:
        got = main(argv)
    except SystemExit as exit_:  # argparse refuses before any command runs
        got = int(exit_.code or 0)
    captured = capsys.readouterr()
    assert got == code, captured.out + captured.err
    assert "a bug" not in captured.err and "Traceback" not in captured.err


def test_could_not_run_is_said_and_junit_calls_it_an_error(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["eval", "greet", "--models", "dead:x,echo:echo", "--cases", "pass.csv"]
    assert main([*argv, "--junit", "j.xml"]) == 3
    out = capsys.readouterr().out
    assert "COULD NOT JUDGE: 1 call did not answer (unreachable)" in out
    assert "ERROR " in out and "PASS:" not in out
    suites = {s.get("name", "").split()[-1]: s for s in ET.parse(env / "j.xml").getroot()}
    assert (suites["dead:x"].get("errors"), suites["dead:x"].get("failures")) == ("1", "0")
    assert suites["dead:x"].find("testcase/error").get("type") == "unreachable"  # type: ignore[union-attr]
    assert (suites["echo:echo"].get("errors"), suites["echo:echo"].get("failures")) == ("0", "0")

    # A real regression beside an unreachable model is still a regression: 1.
    argv = ["eval", "greet", "--models", "dead:x,echo:echo", "--cases", "fail.csv"]
    assert main([*argv, "--junit", "j.xml"]) == 1
    suites = {s.get("name", "").split()[-1]: s for s in ET.parse(env / "j.xml").getroot()}
    assert suites["echo:echo"].get("failures") == "1"
