"""The interchange commands as a person runs them: ``vault export|import --dir``,
``import|export promptfoo|prompty``; text and ``--json``; a bad file exits 2 with its
path and line and no traceback; skipped assertion kinds are printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.cli.test_vault_cli import env, run  # noqa: F401 (env: a fixture)

CASES = """\
- name: refund
  question: Where is my refund? 返金
  assert: {contains: refund, max_latency_ms: 3000}
"""

PROMPTFOO = """\
description: support/faq
prompts:
  - "Answer briefly: {{ question }}"
providers: [openai:gpt-4o-mini, vertex:gemini-2.0-flash]
tests:
  - description: hours
    vars: {question: When are you open?}
    assert:
      - {type: icontains, value: open}
      - {type: javascript, value: "output.split(' ').length < 50"}
"""


def test_vault_export_and_import_dir(env: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    assert run(capsys, "commit", "support/reply", "-f", "p.yaml", "-m", "first")[0] == 0
    (env / "cases.yaml").write_text(CASES, encoding="utf-8")
    assert run(capsys, "cases", "set", "support/reply", "cases.yaml")[0] == 0

    code, out, err = run(capsys, "vault", "export", "--dir", "git", "--json")
    assert code == 0, err
    written = json.loads(out)["written"]
    assert sorted(Path(p).as_posix() for p in written) == [
        "git/support/reply.cases.yaml",
        "git/support/reply.yaml",
    ]
    code, out, _ = run(capsys, "vault", "import", "--dir", "git")
    assert code == 0 and "unchanged (nothing committed): support/reply" in out

    path = env / "git" / "support" / "reply.yaml"
    path.write_text(path.read_text().replace("Be brief.", "Be brief and kind."))
    code, out, _ = run(capsys, "vault", "import", "--dir", "git", "--json")
    report = json.loads(out)
    assert code == 0 and report["committed"][0].startswith("support/reply draft 2")
    code, out, _ = run(capsys, "vault", "history", "support/reply", "--json")
    assert json.loads(out)[0]["message"] == "import from git"

    path.write_text("messages:\n  - role: user\n    content: hi\n  - role: bot\n    content: x\n")
    code, out, err = run(capsys, "vault", "import", "--dir", "git")
    assert code == 2 and "Traceback" not in err
    assert f"{Path('git') / 'support' / 'reply.yaml'}, line 4: message 2 role" in err
    assert "nothing was imported" in err

    code, _, err = run(capsys, "vault", "import")
    assert code == 2 and "give a bundle file or --dir DIR" in err
    code, _, err = run(capsys, "vault", "export", "--dir", "git", "-o", "b.json")
    assert code == 2 and "not both" in err


def test_promptfoo_import_prints_what_it_skipped_and_exports_back(
    env: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    (env / "promptfooconfig.yaml").write_text(PROMPTFOO, encoding="utf-8")
    code, out, err = run(capsys, "import", "promptfoo", "promptfooconfig.yaml")
    assert code == 0, err
    assert "committed support/faq draft 1" in out
    assert "skipped: provider vertex:gemini-2.0-flash" in out
    assert "skipped: hours: javascript (runs code): skipped" in out
    assert "models it compares: --models openai:gpt-4o-mini" in out

    code, out, _ = run(capsys, "import", "promptfoo", "promptfooconfig.yaml", "--json")
    report = json.loads(out)
    assert code == 0 and report["committed"] == [] and report["unchanged"] == ["support/faq"]
    assert any("javascript" in s for s in report["skipped"])

    code, out, err = run(capsys, "export", "promptfoo", "support/faq", "-o", "out.yaml")
    assert code == 0 and "wrote out.yaml" in out, err
    text = (env / "out.yaml").read_text(encoding="utf-8")
    assert "type: icontains" in text and "id: openai:chat:gpt-4o-mini" not in text
    assert "- openai:chat:gpt-4o-mini" in text
    code, out, _ = run(capsys, "export", "prompty", "support/faq")
    assert code == 0 and out.startswith("---\nname: support/faq\n")
    code, out, _ = run(capsys, "export", "prompty", "support/faq", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["text"].startswith("---\n") and "skipped" in shown

    code, _, err = run(capsys, "import", "promptfoo", "missing.yaml")
    assert code == 2 and "no such file: missing.yaml" in err


def test_prompty_round_trip_through_the_cli(env: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    assert run(capsys, "commit", "support/reply", "-f", "p.yaml", "-m", "first")[0] == 0
    code, out, err = run(capsys, "export", "prompty", "support/reply", "-o", "reply.prompty")
    assert code == 0, err
    code, out, err = run(capsys, "import", "prompty", "reply.prompty", "--json")
    assert code == 0, err
    assert json.loads(out)["unchanged"] == ["support/reply"]  # the same content hash


@pytest.mark.parametrize("argv", [["import", "--help"], ["export", "promptfoo", "--help"]])
def test_help_shows_an_example(
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        run(capsys, *argv)
    out = capsys.readouterr().out
    assert exited.value.code == 0 and "workbench " in out and "skipped" in out


EVAL_CONFIG = """\
description: demo/refund
prompts:
  - "Order {{ order_id }}: your refund of {{ amount }} EUR is on its way, today."
providers: [echo]
tests:
  - description: passes
    vars: {order_id: 1182, amount: 12.5}
    assert:
      - {type: contains, value: refund}
      - {type: icontains, value: REFUND}
      - {type: not-contains, value: sorry}
      - {type: regex, value: "\\\\b1182\\\\b"}
      - {type: contains-all, value: [Order, EUR]}
      - {type: icontains-any, value: [TODAY, tomorrow]}
      - {type: javascript, value: "output.length <= 200"}
  - description: fails-contains
    vars: {order_id: 7, amount: 3}
    assert: [{type: contains, value: "{{ order_id }}0"}]
  - description: fails-json
    vars: {order_id: 8, amount: 4}
    assert: [{type: is-json}]
  - description: fails-not-regex
    vars: {order_id: 9, amount: 5}
    assert: [{type: not-regex, value: today}]
  - description: fails-length
    vars: {order_id: 10, amount: 6}
    assert: [{type: javascript, value: "output.length <= 20"}]
  - description: fails-icontains-all
    vars: {order_id: 11, amount: 7}
    assert: [{type: icontains-all, value: [order, usd]}]
  - description: python-skipped
    vars: {order_id: 12, amount: 8}
    assert: [{type: python, value: "len(output) > 0"}, {type: icontains, value: eur}]
"""

PROMPTFOO_VERDICTS = {
    "passes": True,
    "fails-contains": False,
    "fails-json": False,
    "fails-not-regex": False,
    "fails-length": False,
    "fails-icontains-all": False,
    "python-skipped": True,
}
"""What ``promptfoo eval`` (0.123.1, its echo provider) recorded for EVAL_CONFIG."""


def test_an_imported_suite_evaluates_as_promptfoo_did(
    env: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    import csv
    import io

    (env / "promptfooconfig.yaml").write_text(EVAL_CONFIG, encoding="utf-8")
    code, out, err = run(capsys, "import", "promptfoo", "promptfooconfig.yaml")
    assert code == 0 and "skipped: python-skipped: python (runs code)" in out, err
    code, out, err = run(capsys, "eval", "demo/refund", "--models", "echo:echo", "--json")
    assert code == 1, err  # five cases fail, as in promptfoo
    run_id = json.loads(out)["run"]
    code, out, _ = run(capsys, "runs", "show", run_id, "--csv")
    verdicts = {row["case"]: row["passed"] == "True" for row in csv.DictReader(io.StringIO(out))}
    assert verdicts == PROMPTFOO_VERDICTS
