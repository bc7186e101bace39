"""`workbench lint`: findings by rule and severity, configured per folder in the
settings; exit 1 only when an error-level finding remains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.cli.home import make_home
from workbench.app.lint import RULES, lint_content, rules_for
from workbench.cli.main import main
from workbench.core.models import Message, PromptContent, Variable
from workbench.settings import Settings, save_settings

PII = """\
messages:
  - role: system
    content: "Escalate to jane.doe@example.com or +1 (555) 010-2368."
  - role: user
    content: "{% if vip %}VIP {% endif %}{{ question }}"
  - role: assistant
    content: " "
variables:
  question: {}
  unused: {}
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_lint_names_each_rule_and_a_folder_can_tune_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_home(tmp_path, monkeypatch)
    (tmp_path / "pii.yaml").write_text(PII)
    assert run(capsys, "commit", "support/pii", "-f", "pii.yaml", "-m", "1")[0] == 0
    assert run(capsys, "commit", "greet", "-f", "p.yaml", "-m", "1")[0] == 0

    code, out, _ = run(capsys, "lint", "--json")
    assert code == 0  # warnings only: the gate passes
    report = {p["prompt"]: p for p in json.loads(out)["prompts"]}
    rules = sorted({f["rule"] for f in report["support/pii"]["findings"]})
    assert rules == ["empty-message", "langfuse", "personal-data", "undeclared-variable",
                     "unused-variable"]  # fmt: skip
    assert report["greet"]["findings"] == []
    pii = [f for f in report["support/pii"]["findings"] if f["rule"] == "personal-data"]
    assert len(pii) == 2 and all(f["where"] == "message 1 (system)" for f in pii)

    # The support/ folder makes personal data an error and turns Langfuse off.
    save_settings(Settings(lint={"support/": {"personal-data": "error", "langfuse": "off"}}))
    code, out, _ = run(capsys, "lint")
    assert code == 1
    assert "support/pii draft 1" in out and "error [personal-data] message 1 (system)" in out
    assert "[langfuse]" not in out
    assert out.rstrip().endswith("2 prompts linted: 2 errors, 3 warnings")
    assert run(capsys, "lint", "greet")[0] == 0  # another folder: the defaults


def test_a_bad_lint_setting_is_refused_naming_the_rule(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no rule 'persnal-data'"):
        Settings(lint={"": {"persnal-data": "error"}})
    with pytest.raises(ValueError, match="token-budget must be a whole number"):
        Settings(lint={"": {"token-budget": "big"}})


def test_token_budget_and_the_longest_prefix_wins() -> None:
    content = PromptContent(
        messages=(Message(role="user", template="word " * 400 + "{{ q }}"),),
        variables=(Variable(name="q"),),
    )
    config = {"": {"token-budget": 1000}, "eval/": {"token-budget": 100}, "eval/x/": {}}
    assert lint_content("support/a", content, rules_for("support/a", config)) == []
    found = lint_content("eval/x/a", content, rules_for("eval/x/a", config))
    assert [f.rule for f in found] == ["token-budget"]
    assert "over the folder's budget of 100" in found[0].message
    assert set(RULES) >= {"key", "syntax", "personal-data", "token-budget"}
