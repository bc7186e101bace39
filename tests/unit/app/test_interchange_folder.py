"""The folder layout for git: one YAML file per prompt, its suite beside it.

Export -> import into an empty vault -> export gives the same bytes and the same
content hashes; a changed file commits one new version, an unchanged one nothing; a
bad file is named with its path and line and nothing at all is imported; sensitive
values never reach the folder and survive a re-import."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.app.interchange.common import dump_yaml
from workbench.app.interchange.folder import export_dir, import_dir
from workbench.core.cases import parse_cases
from workbench.core.errors import InputError, UsageError
from workbench.core.files import load_yaml
from workbench.core.promptfile import parse_prompt_text
from workbench.core.sources import SourceAccess, SourceDefinition
from workbench.vault import Vault
from workbench.vault.sources import SourceStore

REPLY = """\
messages:
  - role: system
    content: |
      Tu es l'agent de {{ product }} — réponds brièvement.
      Plan du client : {{ plan }}.
  - role: user
    content: "{{ question }} (dossier {{ ssn }}, 日本語 ok)"
model: {model: openai:gpt-4o-mini, temperature: 0.2, max_tokens: 400, stop: ["\\n\\n"]}
variables:
  product: {type: string, default: Acme, description: the product}
  question: {description: La question du client}
  ssn: {sensitivity: sensitive}
  plan: {source: plans, field: plan, where: {id: customer_id}}
  customer_id: {type: integer, sensitivity: internal}
  extra: {type: json, default: {b: 2, a: [1, 2]}, required: false}
tags: [support, fr]
"""

CASES = """\
- name: remboursement
  question: Où est mon remboursement ?
  ssn: 123-45-6789
  customer_id: 7
  assert:
    - {type: contains, value: remboursement, ignore_case: true}
    - type: json_schema
      value: {type: object, required: [status], properties: {status: {type: string}}}
    - {type: rubric, value: "Est poli", model: "openai:gpt-4o-mini", threshold: 6}
    - {type: similar, value: "Votre remboursement est parti.", threshold: 0.7}
    - {type: max_latency_ms, value: 3000}
- name: "état — JSON"
  question: Mon statut en JSON
  ssn: 987-65-4321
  customer_id: 8
  assert: {json: [status], not_regex: "(?i)désolé", max_chars: 400}
"""

GREET = """\
messages:
  - role: user
    content: Hello {{ name }}
variables:
  name: {default: Ada}
"""

SSN = "123-45-6789"


def _vault(path: Path) -> Vault:
    vault = Vault.open(path, create=True, actor="ada")
    SourceStore(vault).add(
        "plans",
        SourceDefinition(kind="csv", path="/data/plans.csv"),
        SourceAccess(prompts=("support/",)),
    )
    return vault


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    from workbench.app.sources import prepare_commit

    with _vault(tmp_path / "a.sqlite3") as v:
        content = prepare_commit(
            v, "support/reply", parse_prompt_text(REPLY, "r", "yaml"), "author"
        )
        v.commit("support/reply", content, "first")
        v.set_test_cases("support/reply", parse_cases(CASES, "yaml"))
        v.commit("greet", parse_prompt_text(GREET, "g", "yaml"), "hello")
        yield v


def _files(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_export_import_export_is_byte_identical_with_the_same_hashes(
    vault: Vault, tmp_path: Path
) -> None:
    first = tmp_path / "first"
    report = export_dir(vault, first)
    files = _files(first)
    assert sorted(files) == ["greet.yaml", "support/reply.cases.yaml", "support/reply.yaml"]
    for name, data in files.items():
        text = data.decode("utf-8")  # UTF-8, unescaped, one newline at the end
        assert text.endswith("\n") and not text.endswith("\n\n"), name
        assert SSN not in text and "987-65-4321" not in text  # sensitive: never in git
    assert "réponds brièvement" in files["support/reply.yaml"].decode()
    assert "content: |" in files["support/reply.yaml"].decode()  # multi-line as a block
    assert any("sensitive variable ssn" in n for n in report.notes)

    with _vault(tmp_path / "b.sqlite3") as empty:
        imported = import_dir(empty, first, role="author")
        assert sorted(c.split(" ")[0] for c in imported.committed) == ["greet", "support/reply"]
        for name in ("greet", "support/reply"):
            assert empty.get_version(name).content_hash == vault.get_version(name).content_hash
            assert empty.get_version(name).message == f"import from {first}"
        got = empty.test_cases("support/reply")
        assert [c.name for c in got] == ["remboursement", "état — JSON"]
        assert [c.assertions for c in got] == [
            c.assertions for c in vault.test_cases("support/reply")
        ]
        assert "ssn" not in got[0].values  # a new vault has no value to keep
        second = tmp_path / "second"
        export_dir(empty, second)
    assert _files(second) == files


def test_a_changed_file_commits_one_version_an_unchanged_one_nothing(
    vault: Vault, tmp_path: Path
) -> None:
    folder = tmp_path / "prompts"
    export_dir(vault, folder)
    again = import_dir(vault, folder, role="author")
    assert again.committed == [] and again.cases_set == []
    assert sorted(again.unchanged) == ["greet", "support/reply"]

    before = vault.get_version("greet")
    path = folder / "greet.yaml"
    path.write_text(path.read_text().replace("Hello", "Bonjour"), encoding="utf-8")
    report = import_dir(vault, folder, role="author")
    assert [c.split(" ")[0] for c in report.committed] == ["greet"]
    history = vault.history("greet")
    assert len(history) == 2 and history[-1].parent_ids == (before.id,)
    assert history[-1].message == f"import from {folder}"
    assert history[-1].content.messages[0].template == "Bonjour {{ name }}"
    assert len(vault.history("support/reply")) == 1


def test_a_changed_suite_sets_cases_and_keeps_the_sensitive_values(
    vault: Vault, tmp_path: Path
) -> None:
    folder = tmp_path / "prompts"
    export_dir(vault, folder)
    path = folder / "support" / "reply.cases.yaml"
    path.write_text(path.read_text().replace("value: 3000", "value: 2500"), encoding="utf-8")
    report = import_dir(vault, folder, role="author")
    assert report.committed == [] and report.cases_set == ["support/reply"]
    cases = vault.test_cases("support/reply")
    latency = [a for a in cases[0].assertions if a.type == "max_latency_ms"]
    assert latency[0].value == 2500
    assert [c.values["ssn"] for c in cases] == [SSN, "987-65-4321"]  # the vault's, kept
    assert len(vault.history("support/reply")) == 1


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        ("messages:\n  - role: user\n    content: [oops\n", "invalid YAML at line 4"),
        (
            "messages:\n  - role: user\n    content: hi\n  - role: robot\n    content: x\n",
            "line 4: message 2 role: is 'robot'",
        ),
        ("messages:\n  - role: user\n    content: '{{ name'\n", "message 1 (user)"),
    ],
)
def test_a_bad_file_names_its_path_and_line_and_nothing_is_imported(
    vault: Vault, tmp_path: Path, broken: str, expected: str
) -> None:
    folder = tmp_path / "prompts"
    export_dir(vault, folder)
    good = folder / "greet.yaml"
    good.write_text(good.read_text().replace("Hello", "Hi"), encoding="utf-8")  # a real change
    bad = folder / "team" / "broken.yaml"
    bad.parent.mkdir()
    bad.write_text(broken, encoding="utf-8")
    audit = len(vault.audit_events())
    with pytest.raises(InputError) as caught:
        import_dir(vault, folder, role="author")
    assert str(bad) in caught.value.message and expected in caught.value.message
    assert "nothing was imported" in caught.value.message
    assert len(vault.history("greet")) == 1 and "team/broken" not in vault.prompt_names()
    assert len(vault.audit_events()) == audit


def test_a_bad_case_names_its_line_and_a_suite_needs_its_prompt(
    vault: Vault, tmp_path: Path
) -> None:
    folder = tmp_path / "prompts"
    export_dir(vault, folder)
    (folder / "greet.cases.yaml").write_text(
        "cases:\n- name: a\n  values: {name: Bo}\n- name: b\n  assert: {nope: 1}\n",
        encoding="utf-8",
    )
    (folder / "orphan.cases.yaml").write_text("- name: x\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        import_dir(vault, folder, role="author")
    message = caught.value.message
    assert f"{folder / 'greet.cases.yaml'}, line 4: case 2" in message
    assert "unknown assertion kind 'nope'" in message
    assert f"{folder / 'orphan.cases.yaml'}: test cases without a prompt file" in message
    assert vault.test_cases("greet") == []


def test_hidden_folders_are_ignored_and_names_that_cannot_be_files_are_refused(
    vault: Vault, tmp_path: Path
) -> None:
    folder = tmp_path / "prompts"
    export_dir(vault, folder, ["greet"])
    (folder / ".github" / "workflows").mkdir(parents=True)
    (folder / ".github" / "workflows" / "ci.yaml").write_text("on: push\n", encoding="utf-8")
    assert import_dir(vault, folder, role="author").unchanged == ["greet"]
    vault.commit("odd.cases", parse_prompt_text(GREET, "g", "yaml"), "odd")
    vault.commit("old", parse_prompt_text(GREET, "g", "yaml"), "old")
    vault.set_archived("old")
    report = export_dir(vault, folder)  # every prompt: the odd one is skipped, and said
    assert any("would read as the test cases" in s for s in report.skipped)
    assert "1 archived prompt is not written (name them to export them)" in report.notes
    assert not (folder / "odd.cases.yaml").exists() and not (folder / "old.yaml").exists()
    with pytest.raises(UsageError, match="would read as the test cases"):
        export_dir(vault, folder, ["odd.cases"])


@settings(max_examples=300, deadline=None)
@given(st.text(), st.dictionaries(st.text(max_size=5), st.text() | st.integers(), max_size=3))
def test_any_text_writes_as_yaml_that_reads_back_the_same(
    text: str, values: dict[str, str | int]
) -> None:
    """Line breaks YAML knows that PyYAML writes raw (NEL, LS, PS), quotes, leading
    spaces, unicode: the file reads back as what was written, and writes the same."""
    data = {"messages": [{"role": "user", "content": text}], "values": values}
    out = dump_yaml(data)
    assert load_yaml(out) == data and dump_yaml(load_yaml(out)) == out
    assert out.endswith("\n")
