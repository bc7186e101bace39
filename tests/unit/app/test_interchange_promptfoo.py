"""promptfoo configurations: a realistic one, written here from promptfoo's documented
format, imports with its prompts, providers and the assertion kinds that map; what
does not map (javascript, python, an unknown provider) is reported, not dropped; the
imported checks judge answers as promptfoo's documented kinds do; an export re-imports
to the same prompts and suites."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from workbench.app.interchange.common import Report, apply_parsed
from workbench.app.interchange.promptfoo import read_promptfoo
from workbench.app.interchange.promptfoo_export import write_promptfoo
from workbench.app.interchange.promptfoo_format import map_provider
from workbench.core.assertions import check
from workbench.core.errors import InputError, UsageError
from workbench.core.runs import TestCase
from workbench.vault import Vault

CONFIG = """\
# yaml-language-server: $schema=https://promptfoo.dev/config-schema.json
description: support/reply
prompts:
  - file://prompts/chat.json
  - label: terse
    raw: "Reply in one line to: {{ question }}"
  - file://prompts/short.txt
providers:
  - id: openai:chat:gpt-4o-mini
    config:
      temperature: 0.2
      max_tokens: 300
      seed: 7
  - anthropic:messages:claude-3-5-haiku-latest
  - ollama:chat:llama3.1
  - vertex:gemini-2.0-flash
defaultTest:
  vars:
    product: Acme
  options:
    provider: openai:gpt-4o-mini
  assert:
    - type: latency
      threshold: 5000
tests:
  - description: refund
    vars:
      question: Where is my refund for order 1182?
      language: English
    assert:
      - type: icontains
        value: refund
      - type: not-contains
        value: sorry
      - type: regex
        value: "\\\\b1182\\\\b"
      - type: contains-any
        value: [today, tomorrow]
      - type: llm-rubric
        value: Apologises and gives a date
        threshold: 0.8
      - type: cost
        threshold: 0.002
  - description: status as json
    vars:
      question: My account status as JSON, please.
      language: [English, Français]
    assert:
      - type: is-json
        value: {type: object, required: [status]}
      - type: contains-json
      - type: javascript
        value: output.includes('status')
      - type: similar
        value: '{"status": "active"}'
      - type: python
        value: file://check.py
      - type: javascript
        value: output.length <= 200
  - vars:
      question: Do you sell owls?
    assert:
      - type: equals
        value: "No."
      - type: levenshtein
        value: "No"
"""

CHAT = """[
  {"role": "system",
   "content": "You are a support agent for {{ product }}. Answer in {{ language }}."},
  {"role": "user", "content": "{{ question }}"}
]
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "chat.json").write_text(CHAT, encoding="utf-8")
    (tmp_path / "prompts" / "short.txt").write_text(
        "Answer: {{ question }}\n---\nAnswer kindly: {{ question }}\n", encoding="utf-8"
    )
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    with Vault.open(tmp_path / "vault.sqlite3", create=True, actor="ada") as v:
        yield v


def test_a_realistic_config_imports_and_says_what_it_skipped(config: Path, vault: Vault) -> None:
    items, report = read_promptfoo(config)
    assert [i.name for i in items] == [
        "support/reply/chat",
        "support/reply/terse",
        "support/reply/short-1",
        "support/reply/short-2",
    ]
    chat = items[0].content
    assert [(m.role, m.template) for m in chat.messages] == [
        ("system", "You are a support agent for {{ product }}. Answer in {{ language }}."),
        ("user", "{{ question }}"),
    ]
    assert chat.model.model == "openai:gpt-4o-mini"
    assert (chat.model.temperature, chat.model.max_tokens) == (0.2, 300)
    assert [v.name for v in chat.variables] == ["language", "product", "question"]
    assert items[1].content.messages[0].role == "user"
    assert report.models == [
        "openai:gpt-4o-mini",
        "anthropic:claude-3-5-haiku-latest",
        "ollama:llama3.1",
    ]
    # Every skip is said, with the case it was in.
    assert "provider vertex:gemini-2.0-flash: no workbench family" in report.skipped[0]
    skipped = "\n".join(report.skipped)
    assert "status as json: javascript (runs code): skipped" in skipped
    assert "status as json: python (runs code): skipped" in skipped
    assert "case 3: levenshtein (no workbench equivalent): skipped" in skipped
    notes = "\n".join(report.notes)
    assert "config seed not carried over" in notes and "contains-json became json" in notes

    cases = items[0].cases
    assert cases is not None
    assert [c.name for c in cases] == [
        "refund",
        "status as json [language=English]",
        "status as json [language=Français]",
        "case 3",
    ]
    refund = {a.type: a for a in cases[0].assertions}
    assert cases[0].values == {
        "product": "Acme",
        "question": "Where is my refund for order 1182?",
        "language": "English",
    }
    assert refund["max_latency_ms"].value == 5000  # from defaultTest
    assert refund["contains"].ignore_case and refund["not_contains"].value == "sorry"
    assert refund["rubric"].model == "openai:gpt-4o-mini"  # defaultTest's grader
    assert (refund["rubric"].scale, refund["rubric"].threshold) == (1, 0.8)
    assert refund["max_cost_usd"].value == 0.002
    status = [a.type for a in cases[1].assertions]
    assert status == ["max_latency_ms", "json", "json", "similar", "max_chars"]
    assert cases[1].assertions[1].value == ["status"]
    assert cases[1].assertions[3].threshold == 0.75  # promptfoo's default, kept

    apply_parsed(vault, items, role="author", message="import", report=report)
    assert sorted(vault.prompt_names()) == sorted(i.name for i in items)
    assert vault.test_cases("support/reply/chat") == list(cases)


def _judge(case: TestCase, answer: str) -> bool:
    """Every check that needs no model: what an eval of the answer records."""
    results = [
        check(a, answer, values=case.values, latency_ms=1200.0, cost_usd=0.001)
        for a in case.assertions
        if a.type != "rubric"
    ]
    return all(r.passed for r in results)


def test_imported_checks_judge_answers_as_promptfoo_documents(config: Path) -> None:
    items, _ = read_promptfoo(config)
    cases = {c.name: c for c in items[0].cases or ()}
    # promptfoo: icontains, not-contains, a regex and contains-any all hold.
    assert _judge(cases["refund"], "Your REFUND for order 1182 arrives tomorrow.")
    assert _judge(cases["refund"], "Sorry: your refund for order 1182 arrives today.")  # case
    assert not _judge(cases["refund"], "So sorry: your refund for order 1182 arrives tomorrow.")
    assert not _judge(cases["refund"], "Your refund for order 11820 arrives tomorrow.")
    assert not _judge(cases["refund"], "Your refund for order 1182 arrives next week.")
    status = cases["status as json [language=English]"]
    assert _judge(status, '{"status": "active"}')
    assert not _judge(status, '{"plan": "pro"}')  # the schema needs status
    assert not _judge(status, "It is active.")  # not JSON
    assert _judge(cases["case 3"], "No.")
    assert not _judge(cases["case 3"], "Yes.")


def test_export_then_import_gives_the_same_prompt_and_suite(
    config: Path, vault: Vault, tmp_path: Path
) -> None:
    items, report = read_promptfoo(config, name="support/reply")
    apply_parsed(vault, items[:1], role="author", message="import", report=report)
    version = vault.get_version("support/reply/chat")
    text, out = write_promptfoo(
        version,
        vault.test_cases("support/reply/chat"),
        models=["anthropic:claude-3-5-haiku-latest"],
    )
    data = yaml.safe_load(text)
    assert text.endswith("\n") and set(data) == {"description", "prompts", "providers", "tests"}
    assert data["providers"] == [
        {"id": "openai:chat:gpt-4o-mini", "config": {"temperature": 0.2, "max_tokens": 300}},
        "anthropic:messages:claude-3-5-haiku-latest",
    ]
    assert data["tests"][0]["assert"][0] == {"type": "latency", "threshold": 5000}
    assert out.skipped == []
    again_path = tmp_path / "again" / "promptfooconfig.yaml"
    again_path.parent.mkdir()
    again_path.write_text(text, encoding="utf-8")
    again, _ = read_promptfoo(again_path)
    assert [i.name for i in again] == ["support/reply/chat"]
    assert again[0].content.content_hash() == version.content_hash
    assert list(again[0].cases or ()) == vault.test_cases("support/reply/chat")
    # A second export of the re-imported prompt is the same text.
    assert (
        write_promptfoo(
            version, list(again[0].cases or ()), models=["anthropic:claude-3-5-haiku-latest"]
        )[0]
        == text
    )


def test_what_an_export_cannot_hold_is_reported(vault: Vault) -> None:
    from workbench.core.assertions import Assertion
    from workbench.core.models import Message, PromptContent, Variable

    content = PromptContent(
        messages=(Message(role="user", template="Hi {{ name }} {{ ssn }}"),),
        variables=(Variable(name="name"), Variable(name="ssn", sensitivity="sensitive")),
    )
    version = vault.commit("kyc", content, "first")
    cases = [
        TestCase(
            name="a",
            values={"name": "Bo", "ssn": "123-45-6789"},
            assertions=(
                Assertion(type="max_tokens", value=50),
                Assertion(type="contains", value="Bo"),
            ),
        )
    ]
    text, report = write_promptfoo(version, cases)
    assert "123-45-6789" not in text
    assert "a: values of sensitive variables left out" in report.skipped
    assert any("max tokens" in s and "no promptfoo kind" in s for s in report.skipped)
    assert yaml.safe_load(text)["providers"] == ["echo"]  # no model: promptfoo's echo


def test_providers_map_by_family_and_bad_configs_say_where(tmp_path: Path) -> None:
    assert map_provider("openai:gpt-4o") == "openai:gpt-4o"
    assert map_provider("openai:chat:gpt-4o") == "openai:gpt-4o"
    assert map_provider("anthropic:messages:claude-3-5-sonnet") == "anthropic:claude-3-5-sonnet"
    assert map_provider("ollama:chat:llama3:8b") == "ollama:llama3:8b"
    assert map_provider("echo") == "echo:echo"
    assert map_provider("bedrock:anthropic.claude") is None
    bad = tmp_path / "promptfooconfig.yaml"
    bad.write_text("prompts: [hi]\ntests:\n  - vars: {a: 1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"promptfooconfig.yaml: invalid YAML at line 4"):
        read_promptfoo(bad)
    bad.write_text("providers: [echo]\n", encoding="utf-8")
    with pytest.raises(InputError, match="it has no 'prompts'"):
        read_promptfoo(bad)
    with pytest.raises(UsageError, match="--grader"):
        read_promptfoo(bad, grader="no-profile")
    bad.write_text(
        "prompts: ['{{ q }}']\ntests:\n  - assert:\n      - {type: llm-rubric, value: ok}\n",
        encoding="utf-8",
    )
    items, report = read_promptfoo(bad)
    assert items[0].cases is not None and items[0].cases[0].assertions == ()
    assert "llm-rubric: no grader model" in report.skipped[0]
    items, _ = read_promptfoo(bad, grader="openai:gpt-4o-mini")
    assert items[0].cases is not None
    assert items[0].cases[0].assertions[0].model == "openai:gpt-4o-mini"
    assert isinstance(Report().as_dict(), dict)
