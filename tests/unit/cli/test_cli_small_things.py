"""Smaller bad-input cases (issue 15, item 15): each says what is wrong and changes
nothing; a check that finds nothing does not create anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.cli.home import GREET_PROMPT, make_home
from workbench.cli.main import main


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_home(tmp_path, monkeypatch)
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--max-cost", "-1", "give a value at least 0"),
        ("--concurrency", "0", "give a value from 1 to 256"),
        ("--repeat", "101", "give a value from 1 to 100"),
        ("--call-deadline", "0", "give a value at least 0.001"),
        ("--max-answer-chars", "nan", "is not a whole number"),
        ("--models", "", "--models is empty"),
        ("--models", " , ", "--models is empty"),
    ],
)
def test_out_of_range_options_are_refused_saying_the_range(
    env: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, says: str
) -> None:
    assert _run(capsys, "commit", "greet", "-f", "p.yaml", "-m", "first")[0] == 0
    argv = ["compare", "greet", "--models", "echo:echo", option, value]
    code, text = _run(capsys, *argv)
    assert code == 2 and says in text, text
    assert _run(capsys, "runs", "list", "--json")[1].strip() == "[]"  # nothing ran


def test_an_empty_filter_is_not_an_empty_vault(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "no prompts yet" in _run(capsys, "vault", "list")[1]
    _run(capsys, "commit", "greet", "-f", "p.yaml", "-m", "first")
    code, text = _run(capsys, "vault", "list", "--prefix", "zzz/")
    assert code == 0 and "no prompt matches (of 1 in the vault)" in text


def test_removing_a_label_that_is_not_there_changes_nothing(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, "commit", "greet", "-f", "p.yaml", "-m", "first")
    from workbench.vault import Vault

    path = env / "data" / "vault.sqlite3"
    with Vault.open(path) as vault:
        before = len(vault.audit_events())
    code, text = _run(capsys, "vault", "label", "greet", "nolabel", "--remove")
    assert code == 2 and "has no label 'nolabel': nothing was removed" in text
    with Vault.open(path) as vault:
        assert len(vault.audit_events()) == before  # no audit event for nothing


def test_doctor_looks_and_creates_nothing(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _run(capsys, "doctor")
    assert "no vault yet at" in text and "a bug" not in text
    assert not (env / "data" / "vault.sqlite3").exists()
    assert code in (0, 1)  # a missing keychain or display may fail other checks


@pytest.mark.parametrize(
    ("csv", "says"),
    [
        ("name,assert:bogus\na,1\n", "case 1: unknown assertion kind 'bogus'"),
        ("name,name\na,b\n", "the header names column 'name' twice"),
        ("name,n\na,1\na,2\n", "cases 1 and 2 are both named 'a'"),
    ],
)
def test_case_files_that_would_mislead_are_refused(
    env: Path, capsys: pytest.CaptureFixture[str], csv: str, says: str
) -> None:
    _run(capsys, "commit", "greet", "-f", "p.yaml", "-m", "first")
    (env / "c.csv").write_text(csv)
    code, text = _run(capsys, "compare", "greet", "--models", "echo:echo", "--cases", "c.csv")
    assert code == 2 and says in text, text
    assert "Input should be" not in text  # no raw validator wording


def test_one_output_format_and_a_prompt_from_stdin(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import sys

    class Stdin(io.TextIOWrapper):
        pass

    monkeypatch.setattr(sys, "stdin", Stdin(io.BytesIO(GREET_PROMPT.encode())))
    code, text = _run(capsys, "commit", "greet", "-f", "-", "-m", "from stdin")
    assert code == 0 and "committed greet" in text
    code, text = _run(capsys, "compare", "greet", "--models", "echo:echo", "--json", "--csv")
    assert code == 2 and "--json and --csv both asked for" in text


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({"max_latency_ms": -5}, "needs a limit of 0 or more"),
        ({"max_cost_usd": "nan"}, "needs a limit of 0 or more"),
        ({"finish_reason": "bananas"}, "is not a reason an answer ends with"),
    ],
)
def test_assertions_that_can_never_mean_anything_are_refused(
    spec: dict[str, Any], says: str
) -> None:
    from workbench.core.assertions import parse_assertion_spec
    from workbench.core.errors import InputError

    with pytest.raises(InputError, match=says):
        parse_assertion_spec(spec, "cases.yaml: case 1")


def test_finish_reasons_are_the_providers_own() -> None:
    from typing import get_args

    from workbench.core.assertions import FINISH_REASONS
    from workbench.providers.base import FinishReason

    assert get_args(FinishReason) == FINISH_REASONS


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("x" * 250, "it is 250 characters long; a name has at most 200"),
        ("café/menu", "'é' is not one of them"),
        ("a b", "a space is not one of them"),
        ("a//b", "a part is empty"),
    ],
)
def test_a_bad_prompt_name_says_what_is_wrong_with_it(name: str, says: str) -> None:
    """Issue 15, item 13: a long name got a message about characters, Unicode 'use
    letters' (é is a letter)."""
    from workbench.core.models import validate_prompt_name

    with pytest.raises(ValueError, match=says):
        validate_prompt_name(name)


def test_csv_names_cases_as_people_do(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import csv
    import io

    _run(capsys, "commit", "greet", "-f", "p.yaml", "-m", "first")
    (env / "c.csv").write_text("name,n\nalpha,1\nbeta,2\n")
    code, out = _run(
        capsys, "compare", "greet", "--models", "echo:echo", "--cases", "c.csv", "--csv"
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out[out.index("version,") :])))
    assert [(r["case"], r["case_index"]) for r in rows] == [("alpha", "0"), ("beta", "1")]


def test_a_big_import_says_which_step_it_is_at(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15, item 15: a 245 MB import showed nothing for 36 s. Steps are said on a
    terminal for big bundles (the bound lowered here so a small bundle counts)."""
    import io
    import sys

    from workbench.cli import vault_cmds

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert main(["commit", "greet", "-f", "p.yaml", "-m", "first"]) == 0
    assert main(["vault", "export", "-o", "b.json"]) == 0
    monkeypatch.setenv("WORKBENCH_VAULT", str(env / "other.sqlite3"))
    assert main(["vault", "init"]) == 0
    monkeypatch.setattr(vault_cmds, "PROGRESS_BYTES", 1)
    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["vault", "import", "b.json"]) == 0
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("reading and checking b.json")
    assert lines[1].startswith("importing 1 versions of 1 prompts in one transaction")
    assert lines[2].startswith("done (")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--family", "openai"], "name 'bad name': a profile name uses letters"),
        (["--family", "openai", "--key-env", "1X"], "an environment variable name"),
    ],
)
def test_profile_errors_say_the_rule_not_a_regex(
    env: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    name = "bad name" if "name 'bad name'" in says else "ok"
    code, text = _run(capsys, "provider", "add", name, *argv)
    assert code == 2 and says in text, text
    assert "should match pattern" not in text and "^[" not in text
