""".prompty files: a file in Prompty's documented 1.x shape imports (messages at role
markers, model configuration, inputs as variables, the sample as one case); the 2.x
shape reads too; a workbench version exports and re-imports to the same content hash
and sample; a bad file says where."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from workbench.app.interchange.prompty import read_prompty, write_prompty
from workbench.core.assertions import Assertion
from workbench.core.errors import InputError
from workbench.core.models import Message, ModelDefaults, PromptContent, PromptVersion, Variable
from workbench.core.runs import TestCase

BASIC = """\
---
name: Basic Prompt
description: A basic prompt that uses the chat API to answer questions
authors:
  - someone
tags: [example, prompt]
model:
  api: chat
  configuration:
    type: openai
    name: gpt-4o-mini
    api_key: ${env:OPENAI_API_KEY}
  parameters:
    max_tokens: 3000
    temperature: 0.3
    response_format: {type: json_object}
    frequency_penalty: 0.5
inputs:
  firstName:
    type: string
    description: The customer's first name
    default: Jane
  question:
    type: string
  context:
    type: object
sample:
  firstName: Jane
  question: What is the meaning of life?
  context: {plan: pro}
---
You are an AI assistant who helps people find information.

# Customer
You are helping {{firstName}} to find answers.

user:
{{question}}

assistant:
Sure, one moment.

user:
Thanks — 日本語 too, with {{ context.plan }}.
"""

V2 = """\
---
name: greeter
metadata:
  tags: [v2]
model:
  id: claude-3-5-haiku-latest
  provider: anthropic
  options: {temperature: 0.1, maxOutputTokens: 200}
inputs:
  - name: who
    kind: string
    example: Ada
template:
  format: {kind: mustache}
---
system:
Greet {{who}}.
"""


def test_a_prompty_file_imports_messages_model_inputs_and_its_sample(tmp_path: Path) -> None:
    path = tmp_path / "basic.prompty"
    path.write_text(BASIC, encoding="utf-8")
    [item], report = read_prompty(path)
    assert item.name == "Basic-Prompt"
    content = item.content
    assert [m.role for m in content.messages] == ["system", "user", "assistant", "user"]
    assert content.messages[0].template.startswith("You are an AI assistant")
    assert content.messages[0].template.endswith("to find answers.")
    assert content.messages[3].template == "Thanks — 日本語 too, with {{ context.plan }}."
    assert content.model == ModelDefaults(
        model="openai:gpt-4o-mini", temperature=0.3, max_tokens=3000, response_format="json_object"
    )
    variables = {v.name: v for v in content.variables}
    assert variables["firstName"].default == "Jane"
    assert variables["firstName"].description == "The customer's first name"
    assert variables["context"].type == "json"
    assert content.tags == ("example", "prompt")
    assert item.cases == [
        TestCase(
            name="sample",
            values={
                "firstName": "Jane",
                "question": "What is the meaning of life?",
                "context": {"plan": "pro"},
            },
        )
    ]
    assert report.notes == ["model parameters frequency_penalty: not carried over"]


def test_the_2x_shape_reads_too(tmp_path: Path) -> None:
    path = tmp_path / "greeter.prompty"
    path.write_text(V2, encoding="utf-8")
    [item], report = read_prompty(path, name="team/greeter")
    assert item.name == "team/greeter"
    assert item.content.model == ModelDefaults(
        model="anthropic:claude-3-5-haiku-latest", temperature=0.1, max_tokens=200
    )
    assert item.content.tags == ("v2",)
    assert item.cases is not None and item.cases[0].values == {"who": "Ada"}
    assert any("template mustache" in n for n in report.notes)


def test_export_then_import_gives_the_same_hash_and_sample(tmp_path: Path) -> None:
    content = PromptContent(
        messages=(
            Message(role="system", template="Tu es l'agent de {{ product }}.\nSois bref."),
            Message(role="user", template="{{ question }} ({{ ssn }})"),
        ),
        model=ModelDefaults(
            model="openai:gpt-4o-mini",
            temperature=0.2,
            max_tokens=400,
            top_p=0.9,
            stop=("###",),
            response_format="text",
        ),
        variables=(
            Variable(name="product", default="Acme", description="the product"),
            Variable(name="question"),
            Variable(name="ssn", sensitivity="sensitive", required=False),
            Variable(name="limit", type="integer", default=3, sensitivity="internal"),
        ),
        tags=("support",),
    )
    version = PromptVersion(
        prompt="support/reply", content=content, content_hash=content.content_hash()
    )
    cases = [
        TestCase(name="first", values={"question": "Où ?"}),
        TestCase(
            name="sample",
            values={"question": "Où est mon colis ?", "ssn": "123-45-6789", "limit": 2},
            assertions=(Assertion(type="contains", value="colis"),),
        ),
    ]
    text, report = write_prompty(version, cases, profiles={"openai": ("openai", "")})
    assert text.startswith("---\nname: support/reply\n") and text.endswith("\n")
    assert "123-45-6789" not in text
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["model"]["configuration"] == {"type": "openai", "name": "gpt-4o-mini"}
    assert front["inputs"]["ssn"] == {
        "type": "string",
        "required": False,
        "sensitivity": "sensitive",
    }
    assert front["sample"] == {"limit": 2, "question": "Où est mon colis ?"}
    skipped = "\n".join(report.skipped)
    assert "sample: values of sensitive variables left out" in skipped
    assert "sample: assertions: Prompty has none" in skipped and "1 more test case" in skipped

    path = tmp_path / "reply.prompty"
    path.write_text(text, encoding="utf-8")
    [item], _ = read_prompty(path)
    assert item.name == "support/reply"
    assert item.content.content_hash() == version.content_hash
    assert item.cases == [
        TestCase(name="sample", values={"limit": 2, "question": "Où est mon colis ?"})
    ]
    again, _ = write_prompty(version, list(item.cases), profiles={"openai": ("openai", "")})
    assert again == text  # the same file again


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("system:\nhi\n", "starts with a '---' line"),
        ("---\nname: x\nsystem:\nhi\n", "line 1: the front matter has no closing '---'"),
        ("---\nname: [x\n---\nuser:\nhi\n", "invalid YAML in the front matter"),
        ("---\nname: x\n---\n\n", "line 4: the body holds no message"),
        ("---\ninputs:\n  bad name: {type: string}\n---\nuser:\nhi\n", "input 'bad name'"),
    ],
)
def test_a_bad_file_says_where(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.prompty"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_prompty(path)
    assert str(path) in caught.value.message and expected in caught.value.message
