"""``workbench eval`` with a rubric graded by a model on the local provider server: the
gate passes and fails on the grade, says what grading cost, counts a grader that gave
no grade as "could not judge" (exit 3), and ``workbench log`` lists the grading calls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.providerserver.server import ProviderServer

from .home import add_openai_profile, make_home, run

PROMPT = """\
messages:
  - role: user
    content: "Answer about {{ topic }}"
"""


def cases(grader: str, threshold: int = 7) -> str:
    return json.dumps(
        [{"name": "owls", "topic": "owls",
          "assert": [{"type": "rubric", "value": "The answer is about {{ topic }}.",
                      "model": grader, "threshold": threshold}]}]
    )  # fmt: skip


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    with ProviderServer() as s:
        s.script("m", input_tokens=10, output_tokens=5)
        s.script("judge", text='{"score": 8, "reason": "about owls"}', input_tokens=100,
                 output_tokens=10)  # fmt: skip
        s.script("mute-judge", text="Sure! Happy to help.")
        yield s


@pytest.fixture
def home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: ProviderServer,
    capsys: pytest.CaptureFixture[str],
) -> Path:  # fmt: skip
    make_home(tmp_path, monkeypatch)
    (tmp_path / "p.yaml").write_text(PROMPT)
    add_openai_profile(capsys, monkeypatch, server, "m=1,2", "judge=10,20", "mute-judge=10,20")
    assert run(capsys, "commit", "p", "-f", "p.yaml", "-m", "1")[0] == 0
    return tmp_path


def test_the_gate_passes_and_fails_on_the_grade_and_says_what_grading_cost(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (home / "pass.json").write_text(cases("oa:judge"))
    (home / "fail.json").write_text(cases("oa:judge", threshold=9))
    code, out, err = run(capsys, "eval", "p", "--models", "oa:m", "--cases", "pass.json")
    assert code == 0, out + err
    assert "+ 1 rubric grading call" in err
    grading = (100 * 10 + 10 * 20) / 1e6
    assert f"rubric grading: 1 of 1 check graded, ${grading:.4f} (not in COST above)" in out
    code, out, _ = run(capsys, "eval", "p", "--models", "oa:m", "--cases", "fail.json", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["verdict"] == "fail" and data["grading"]["cost_usd"] == pytest.approx(grading)
    code, out, _ = run(capsys, "log", "--jsonl")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["kind"] for r in records].count("grader") == 2
    assert {r["model"] for r in records if r["kind"] == "grader"} == {"judge"}
    code, out, _ = run(capsys, "log")
    assert code == 0 and "KIND" in out and out.count("rubric grader") == 2


def test_a_grade_that_cannot_be_read_is_could_not_judge(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (home / "mute.json").write_text(cases("oa:mute-judge"))
    code, out, _ = run(capsys, "eval", "p", "--models", "oa:m", "--cases", "mute.json")
    assert code == 3, out
    assert "UNGRADED" in out and "the grader's answer has no JSON object" in out
    assert "COULD NOT JUDGE: 1 answer could not be graded (rubric grader)" in out


def test_a_rubric_without_a_grader_is_a_usage_error(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (home / "bad.json").write_text(
        json.dumps([{"topic": "owls", "assert": [{"type": "rubric", "value": "polite"}]}])
    )
    code, _, err = run(capsys, "eval", "p", "--models", "oa:m", "--cases", "bad.json")
    assert code == 2 and "needs a grader model" in err and "Traceback" not in err
    (home / "nowhere.json").write_text(cases("nowhere:judge"))
    code, _, err = run(capsys, "eval", "p", "--models", "oa:m", "--cases", "nowhere.json")
    assert code == 2 and "no provider profile named 'nowhere'" in err
