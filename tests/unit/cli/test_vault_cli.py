from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli.main import main

PROMPT = """\
messages:
  - role: system
    content: You are a support agent for {{ product }}. Be brief.
  - role: user
    content: "{{ question }}"
model: {model: gpt-4o-mini, temperature: 0.2, max_tokens: 400}
variables:
  product: {type: string, default: Acme}
  question: {description: The customer's question}
tags: [support]
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("WORKBENCH_VAULT", raising=False)
    monkeypatch.setenv("WORKBENCH_AUTHOR", "ada")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.yaml").write_text(PROMPT)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_commit_list_show_history_diff(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "commit", "support/reply", "-f", "p.yaml", "-m", "first")
    assert code == 0 and "committed support/reply" in out
    (env / "p.yaml").write_text(PROMPT.replace("Be brief.", "Be brief and kind."))
    assert run(capsys, "commit", "support/reply", "-f", "p.yaml", "-m", "kinder")[0] == 0

    code, out, _ = run(capsys, "vault", "list", "--json")
    rows = json.loads(out)
    assert code == 0 and rows[0]["name"] == "support/reply" and rows[0]["versions"] == 2

    code, out, _ = run(capsys, "vault", "history", "support/reply", "--json")
    history = json.loads(out)
    assert [v["message"] for v in history] == ["kinder", "first"]

    code, out, _ = run(capsys, "vault", "diff", "support/reply")
    assert code == 0
    assert "-You are a support agent for {{ product }}. Be brief." in out
    assert "+You are a support agent for {{ product }}. Be brief and kind." in out

    first = history[1]["id"][:8]
    code, out, _ = run(capsys, "vault", "show", "support/reply", first)
    assert code == 0 and "Be brief." in out and "kind" not in out.split("\n\n", 1)[1]

    code, out, _ = run(capsys, "vault", "search", "kind", "--json")
    assert [h["prompt"] for h in json.loads(out)] == ["support/reply"]


def test_identical_commit_exit_1(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "commit", "p", "-f", "p.yaml", "-m", "1")
    code, _, err = run(capsys, "commit", "p", "-f", "p.yaml", "-m", "2")
    assert code == 2 and "identical" in err and "hint:" in err


def test_usage_errors_exit_2(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["vault", "bogus"])
    assert info.value.code == 2
    (env / "notes.txt").write_text("hi")
    code, _, err = run(capsys, "--vault", "notes.txt", "vault", "list")
    assert code == 2 and "not a Prompt Workbench vault" in err
    code, _, err = run(capsys, "vault", "list", "--vault", "missing.sqlite3")
    assert code == 2 and "vault init" in err
    code, out, err = run(capsys, "commit", "p", "-f", "nope.yaml", "-m", "x", "--json")
    assert code == 2 and json.loads(out)["error"] == "UsageError"


def test_bad_prompt_files(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (env / "syntax.yaml").write_text('messages:\n  - role: user\n    content: "a\\n{{ x "\n')
    code, _, err = run(capsys, "commit", "p", "-f", "syntax.yaml", "-m", "x")
    assert code == 2 and "message 1 (user) line 2" in err
    (env / "yaml.yaml").write_text("messages: [\n  - role\n")
    code, _, err = run(capsys, "commit", "p", "-f", "yaml.yaml", "-m", "x")
    assert code == 2 and "invalid YAML at line" in err
    (env / "latin.yaml").write_bytes("messages: caf\xe9".encode("latin-1"))
    code, _, err = run(capsys, "commit", "p", "-f", "latin.yaml", "-m", "x")
    assert code == 2 and "not UTF-8" in err
    (env / "role.json").write_text('{"messages": [{"role": "robot", "content": "x"}]}')
    code, _, err = run(capsys, "commit", "p", "-f", "role.json", "-m", "x")
    assert code == 2 and "message 1 role: is 'robot'; it must be one of" in err  # its words
    code, out, _ = run(capsys, "vault", "list", "--json")
    assert json.loads(out) == []


def test_export_import_round_trip(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "commit", "a/b", "-f", "p.yaml", "-m", "1")
    code, out, _ = run(capsys, "vault", "export", "-o", "bundle.json")
    assert code == 0 and (env / "bundle.json").exists()
    assert run(capsys, "vault", "init", "--vault", "other.sqlite3")[0] == 0
    code, out, _ = run(capsys, "vault", "import", "bundle.json", "--vault", "other.sqlite3")
    assert code == 0 and "imported 1 versions" in out
    raw = (env / "bundle.json").read_bytes()
    (env / "cut.json").write_bytes(raw[:200])
    code, _, err = run(capsys, "vault", "import", "cut.json", "--vault", "other.sqlite3")
    assert code == 2 and "truncated" in err


def test_label_cas_from_cli(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "commit", "p", "-f", "p.yaml", "-m", "1")
    assert run(capsys, "vault", "label", "p", "production", "latest")[0] == 0
    code, _, err = run(capsys, "vault", "label", "p", "production", "latest", "--expect", "none")
    assert code == 2 and "points at" in err
    code, out, _ = run(capsys, "vault", "verify")
    assert code == 0 and "intact" in out


def test_console_script_without_display(env: Path) -> None:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    proc = subprocess.run(
        [sys.executable, "-m", "workbench"], env=clean, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "no display" in proc.stderr and "xvfb-run" in proc.stderr
    assert "qt.qpa" not in proc.stderr.lower()


def test_json_counts_at_the_group_and_at_the_command(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 15, item 14: 'vault --json list' printed the table (the command's default
    reset the group's --json)."""
    assert run(capsys, "commit", "support/reply", "-f", "p.yaml", "-m", "first")[0] == 0
    for argv in (("vault", "--json", "list"), ("vault", "list", "--json")):
        code, out, _ = run(capsys, *argv)
        assert code == 0 and json.loads(out)[0]["name"] == "support/reply"
    code, out, _ = run(capsys, "vault", "list")
    assert code == 0 and out.startswith("NAME")
