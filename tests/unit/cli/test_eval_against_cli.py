"""``workbench eval NAME --against LABEL`` as a person runs it, against the local
provider server (which answers with the user message, so a prompt change is an answer
change) on a real vault: per case fixed / regressed / still failing / still passing,
a diff for regressions, --json, and the exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.providerserver.server import ProviderServer

from .home import add_openai_profile, make_home, run

V1 = 'messages:\n  - role: user\n    content: "Answer about {{ topic }}"\n'
V2 = 'messages:\n  - role: user\n    content: "Reply on {{ topic }}"\n'
CASES = """\
- {name: says-answer, topic: owls, assert: {contains: Answer}}
- {name: says-reply, topic: owls, assert: {contains: Reply}}
- {name: on-topic, topic: tea, assert: {contains: tea}}
- {name: never, topic: tea, assert: {contains: zebra}}
"""


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    with ProviderServer() as s:
        s.script("m", input_tokens=10, output_tokens=4)
        yield s


@pytest.fixture
def home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: ProviderServer,
    capsys: pytest.CaptureFixture[str],
) -> Path:  # fmt: skip
    """Prompt p: draft 1 labelled production, draft 2 the head; its four cases."""
    make_home(tmp_path, monkeypatch)
    add_openai_profile(capsys, monkeypatch, server, "m=1,2")
    (tmp_path / "v1.yaml").write_text(V1)
    (tmp_path / "v2.yaml").write_text(V2)
    (tmp_path / "cases.yaml").write_text(CASES)
    for argv in (
        ["commit", "p", "-f", "v1.yaml", "-m", "first"],
        ["vault", "label", "p", "production", "draft1"],
        ["commit", "p", "-f", "v2.yaml", "-m", "reworded"],
        ["cases", "set", "p", "cases.yaml"],
    ):  # fmt: skip
        code, out, err = run(capsys, *argv)
        assert code == 0, (argv, out, err)
    return tmp_path


def test_regressions_fixes_and_the_rest_with_a_diff_and_exit_1(
    home: Path, server: ProviderServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "eval", "p", "--models", "oa:m", "--against", "production")
    assert code == 1, out + err
    lines = out.splitlines()
    assert lines[0].startswith("p: draft 2 (")
    assert " (after) against production (draft 1 (" in lines[0]
    assert lines[1].split() == ["CASE", "MODEL", "BEFORE", "AFTER", "CHANGE"]
    row = {ln.split()[0]: ln for ln in lines[3:7]}
    assert row["says-answer"].split()[-1] == "REGRESSED"
    assert row["says-reply"].split()[-1] == "fixed"
    assert row["on-topic"].endswith("still passing")
    assert row["never"].endswith("still failing")
    assert "1 regressed, 1 fixed, 1 still failing, 1 still passing" in out
    assert "regressed: says-answer · oa:m" in out
    assert "  now: contains 'Answer': the answer does not contain 'Answer'" in out
    assert "  -Answer about owls" in out and "  +Reply on owls" in out
    assert "REGRESSED: 1 case passed on production (draft 1 (" in out
    assert out.rstrip().endswith(") and fails on " + lines[0].split(" (after)")[0][3:])
    # One run of both versions on the same cases and model: 2 x 4 calls.
    assert len(server.requests_for("m")) == 8

    code, out, _ = run(capsys, "eval", "p", "--models", "oa:m", "--against", "production",
                       "--json")  # fmt: skip
    assert code == 1
    data = json.loads(out)
    assert data["verdict"] == "regressed"
    assert data["counts"] == {
        "regressed": 1, "fixed": 1, "still_failing": 1, "still_passing": 1
    }  # fmt: skip
    first = data["changes"][0]
    assert first["case"] == "says-answer" and first["change"] == "regressed"
    assert first["baseline"]["passed"] and not first["candidate"]["passed"]
    assert first["diff"] == ["@@ -1 +1 @@", "-Answer about owls", "+Reply on owls"]


def test_no_regression_exits_0_and_offline_versions_work(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (home / "kept.yaml").write_text(
        "- {name: on-topic, topic: tea, assert: {contains: tea}}\n"
        "- {name: says-reply, topic: owls, assert: {contains: Reply}}\n"
    )
    code, out, _ = run(capsys, "eval", "p", "--models", "oa:m", "--cases", "kept.yaml",
                       "--against", "draft1")  # fmt: skip
    assert code == 0, out
    assert "0 regressed, 1 fixed, 0 still failing, 1 still passing" in out
    assert "OK: nothing that passed on draft 1 (" in out  # a version, not a label
    # The label's own version as the candidate: nothing to compare, nothing run.
    code, out, _ = run(capsys, "eval", "p", "--versions", "production", "--against", "draft1")
    assert code == 0 and "nothing to compare, nothing ran" in out


def test_usage_errors_exit_2_with_what_to_do(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "eval", "p", "--models", "oa:m", "--against", "staging")
    assert code == 2
    assert "'p' has no label or version 'staging' in this vault" in err
    assert "workbench sync" in err and "Traceback" not in err
    code, _, err = run(capsys, "eval", "p", "--versions", "draft1,draft2", "--against", "v1")
    assert code == 2 and "--versions names 2" in err
