"""Variables bound to data sources, through the CLI as a person runs it: ``workbench
source add|list|show|test|edit|remove``, bindings in the prompt file, values typed and
read when a run is prepared (an audit event per read, never a value: a planted
sensitive value is in no file the app wrote), the pin, and the allow-lists refusing a
commit and a run with a message that says which source, which prompt and what to do."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.sourceapi import TOKEN, serve_api
from tests.unit.cli.test_compare_cli import run
from workbench.core.errors import SourceAccessError
from workbench.secrets import KeyringStore
from workbench.settings import load_settings, save_settings
from workbench.vault import Vault

SECRET_EMAIL = "ada.lovelace.7731@example.com"
PROMPT = """\
messages:
  - role: user
    content: "Write to {{ email }} (plan {{ plan }}, credit {{ credit }}): {{ question }}"
variables:
  email: {sensitivity: sensitive, source: crm, field: email}
  plan: {source: crm, field: plan}
  credit: {type: number, source: crm, field: credit}
  customer_id: {type: integer}
  question: {}
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WORKBENCH_AUTHOR", "ada")
    monkeypatch.delenv("WORKBENCH_VAULT", raising=False)
    monkeypatch.chdir(tmp_path)
    conn = sqlite3.connect(tmp_path / "crm.db")
    conn.execute("CREATE TABLE customers (id INTEGER, email TEXT, plan TEXT, credit REAL)")
    conn.executemany(
        "INSERT INTO customers VALUES (?, ?, ?, ?)",
        [(1, SECRET_EMAIL, "gold", 12.5), (2, "bob@example.com", "free", 0)],
    )
    conn.commit()
    conn.close()
    (tmp_path / "p.yaml").write_text(PROMPT)
    (tmp_path / "cases.csv").write_text("name,customer_id,question\none,1,Hi?\ntwo,2,Yo?\n")
    return tmp_path


QUERY = "SELECT email, plan, credit FROM customers WHERE id = :customer_id"


def _add_crm(capsys: pytest.CaptureFixture[str], *extra: str) -> None:
    code, _, err = run(capsys, "source", "add", "crm", "--kind", "sql", "--url",
                       "sqlite:///crm.db", "--query", QUERY, "--sensitive-field", "email",
                       "--allow-prompt", "support/", *extra)  # fmt: skip
    assert code == 0, err


def _compare(
    capsys: pytest.CaptureFixture[str], prompt: str = "support/reply"
) -> tuple[int, dict[str, Any], str]:
    code, out, err = run(capsys, "compare", prompt, "--models", "echo:echo", "--cases",
                         "cases.csv", "--json")  # fmt: skip
    return code, json.loads(out) if out.strip().startswith("{") else {}, err


def test_bound_values_are_read_typed_audited_and_never_stored(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _add_crm(capsys)
    code, _, err = run(capsys, "commit", "support/reply", "-f", "p.yaml", "-m", "bound")
    assert code == 0, err
    # customer_id is read by the source's query: used, though no message names it.
    assert "0 errors, 0 warnings" in run(capsys, "lint", "support/reply")[1]
    # A reader held open keeps the WAL file in place (the last one to close removes it),
    # so what the run wrote through it is scanned too.
    holder = sqlite3.connect(home / "data" / "vault.sqlite3")
    holder.execute("SELECT count(*) FROM versions").fetchone()
    code, data, err = _compare(capsys)
    assert code == 0, err
    cells = sorted(data["run"]["cells"], key=lambda c: c["key"]["case_index"])
    sent = [c["rendered"][0]["content"] for c in cells]
    # Typed by the variable (credit 12.5 a number, 0 stays 0), masked where sensitive.
    assert sent == [
        "Write to [sensitive: email] (plan gold, credit 12.5): Hi?",
        "Write to [sensitive: email] (plan free, credit 0.0): Yo?",
    ]
    with Vault.open(home / "data" / "vault.sqlite3") as vault:
        version = vault.get_version("support/reply")
        events = [e for e in vault.audit_events() if e.action == "source.resolve"]
        assert vault.verify_audit() is None
    # One resolution of the source for the run: who, which versions, how many reads (one
    # per case: their parameters differ), rows and cases; three variables, one query each.
    assert [
        (e.subject, e.actor, e.detail["reads"], e.detail["rows"], e.detail["cases"]) for e in events
    ] == [("crm", "ada", 2, 2, 2)]
    assert {e.detail["prompt"] for e in events} == {"support/reply"}
    assert {e.detail["version_id"] for e in events} == {str(version.id)}
    assert {e.detail["source_version"] for e in events} == {1}
    pins = {v.binding.pin for v in version.content.variables if v.binding}
    assert pins == {events[0].detail["definition_hash"]}
    # The sensitive value: in no file the app wrote (the vault, its WAL, settings, caches).
    for argv in (["log", "--jsonl"], ["runs", "show", data["run"]["id"], "--json"]):
        assert SECRET_EMAIL not in run(capsys, *argv)[1]
    written = [p for p in (home / "data").rglob("*") if p.is_file()]
    assert any(p.name.endswith("-wal") and p.stat().st_size > 0 for p in written)
    for path in written:
        assert path.read_bytes().count(SECRET_EMAIL.encode()) == 0, path
    holder.close()


def test_source_test_list_show_and_json(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _add_crm(capsys, "-m", "the CRM")
    code, out, _ = run(capsys, "source", "test", "crm", "--var", "customer_id=1")
    assert code == 0
    assert "crm v1: 1 row" in out and "columns: email, plan, credit" in out
    assert "••••••" in out and SECRET_EMAIL not in out and "gold" in out
    code, out, _ = run(capsys, "source", "test", "crm", "--json")
    assert code == 2 and "needs a value for customer_id" in json.loads(out)["detail"]
    listed = json.loads(run(capsys, "source", "list", "--json")[1])
    assert [(s["name"], s["number"], s["definition"]["kind"]) for s in listed] == [
        ("crm", 1, "sql")
    ]
    assert listed[0]["definition"]["url"] == f"sqlite:///{home / 'crm.db'}"  # made absolute
    code, out, _ = run(capsys, "source", "edit", "crm", "--allow-prompt", "sales/pitch")
    assert code == 0 and "crm v2 (was v1)" in out
    code, out, _ = run(capsys, "source", "show", "crm")
    assert "prompts allowed: sales/pitch, support/" in out and "reads variables: customer_id" in out
    versions = json.loads(run(capsys, "source", "show", "crm", "--versions", "--json")[1])
    assert [v["number"] for v in versions] == [1, 2] and versions[0]["note"] == "the CRM"
    code, _, err = run(capsys, "source", "edit", "crm", "--allow-prompt", "sales/pitch")
    assert code == 2 and "nothing to change" in err
    code, _, err = run(capsys, "source", "add", "bad", "--kind", "sql", "--url",
                       "postgresql://u:pw1234@db/x", "--query", "SELECT 1")  # fmt: skip
    assert code == 2 and "holds a password" in err and "pw1234" not in err
    assert run(capsys, "source", "remove", "crm")[0] == 0
    assert "no data sources yet" in run(capsys, "source", "list")[1]
    assert "crm (removed)" in run(capsys, "source", "list", "--all")[1]


def test_the_allow_list_refuses_a_commit_and_a_run(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _add_crm(capsys)
    code, _, err = run(capsys, "commit", "billing/reply", "-f", "p.yaml", "-m", "x")
    assert code == 2
    assert (
        "commit refused: prompt 'billing/reply' is not on the allow-list of data source 'crm'"
        in err
    )
    assert "workbench source edit crm --allow-prompt billing/reply" in err
    assert "--allow-prompt billing/" in err
    with Vault.open(home / "data" / "vault.sqlite3") as vault:
        assert vault.prompt_names() == []  # nothing half-written
    assert run(capsys, "commit", "support/reply", "-f", "p.yaml", "-m", "ok")[0] == 0
    # The owner closes the source to the prompt: the run is refused before any read.
    assert run(capsys, "source", "edit", "crm", "--deny-prompt", "support/",
               "--allow-prompt", "sales/")[0] == 0  # fmt: skip
    code, data, err = _compare(capsys)
    assert code == 2 and data["error"] == "SourceAccessError" and "run" not in data
    assert (
        "run refused: prompt 'support/reply' is not on the allow-list of data source 'crm'" in err
    )
    assert "ask the source's owner (ada)" in err.lower()
    with Vault.open(home / "data" / "vault.sqlite3") as vault:
        assert not [e for e in vault.audit_events() if e.action == "source.resolve"]
        assert vault.verify_audit() is None
    # Removed: refused too, saying so.
    run(capsys, "source", "edit", "crm", "--allow-prompt", "support/")
    run(capsys, "source", "remove", "crm")
    code, _, err = _compare(capsys)
    assert code == 2 and "source 'crm', which was removed" in err


def test_a_role_below_the_sources_is_refused_until_the_login_has_it(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _add_crm(capsys, "--allow-role", "publisher")
    code, _, err = run(capsys, "commit", "support/reply", "-f", "p.yaml", "-m", "x")
    assert code == 2
    assert "open to publisher and above; your role is author" in err
    assert "workbench source edit crm --allow-role author" in err
    settings = load_settings()
    settings.registry_role = "admin"  # as 'registry login' stores it
    save_settings(settings)
    assert run(capsys, "commit", "support/reply", "-f", "p.yaml", "-m", "x")[0] == 0


def test_a_version_reads_the_definition_it_pinned_until_committed_again(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (home / "plans.csv").write_text("id,plan\n1,gold\n2,free\n")
    (home / "plans2.csv").write_text("id,plan\n1,platinum\n2,free\n")
    run(capsys, "source", "add", "plans", "--kind", "csv", "--path", "plans.csv",
        "--allow-prompt", "support/reply")  # fmt: skip
    (home / "q.yaml").write_text(
        "messages: [{role: user, content: 'Plan {{ plan }}'}]\n"
        "variables:\n  plan: {source: plans, field: plan, where: {id: customer_id}}\n"
        "  customer_id: {type: integer}\n"
    )
    assert run(capsys, "commit", "support/reply", "-f", "q.yaml", "-m", "1")[0] == 0
    run(capsys, "source", "edit", "plans", "--path", "plans2.csv")

    def first_case() -> str:
        code, data, err = _compare(capsys)
        assert code == 0, err
        cells = sorted(data["run"]["cells"], key=lambda c: c["key"]["case_index"])
        return str(cells[0]["rendered"][0]["content"])

    assert first_case() == "Plan gold"  # the pinned v1 definition, not the edit
    assert "sources  plans v1 (" in run(capsys, "vault", "show", "support/reply")[1]
    assert run(capsys, "commit", "support/reply", "-f", "q.yaml", "-m", "re-pin")[0] == 0
    assert first_case() == "Plan platinum"
    with Vault.open(home / "data" / "vault.sqlite3") as vault:
        numbers = [e.detail["source_version"] for e in vault.audit_events()
                   if e.action == "source.resolve"]  # fmt: skip
    assert numbers[0] == 1 and numbers[-1] == 2


def test_a_case_whose_read_fails_fails_alone(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (home / "plans.csv").write_text("id,plan\n1,gold\n")
    run(capsys, "source", "add", "plans", "--kind", "csv", "--path", "plans.csv",
        "--allow-prompt", "support/reply")  # fmt: skip
    (home / "q.yaml").write_text(
        "messages: [{role: user, content: 'Plan {{ plan }}'}]\n"
        "variables:\n  plan: {source: plans, field: plan, where: {id: customer_id}}\n"
        "  customer_id: {type: integer}\n"
    )
    assert run(capsys, "commit", "support/reply", "-f", "q.yaml", "-m", "1")[0] == 0
    code, data, _ = _compare(capsys)
    cells = sorted(data["run"]["cells"], key=lambda c: c["key"]["case_index"])
    assert cells[0]["error"] is None and cells[0]["rendered"][0]["content"] == "Plan gold"
    assert "data source 'plans' gave 0 matching rows" in cells[1]["error"]
    assert code == 2  # the input's fault: exit 2
    (home / "plans.csv").write_text("id,tier\n1,gold\n")  # a column gone
    code, data, _ = _compare(capsys)
    assert code == 2
    assert {c["error"] for c in data["run"]["cells"]} == {
        "data source 'plans' has no column 'plan' (its columns: id, tier)"
    }


def test_bad_bindings_are_refused_at_commit(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _add_crm(capsys)
    no_param = PROMPT.replace("  customer_id: {type: integer}\n", "")
    (home / "a.yaml").write_text(no_param)
    code, _, err = run(capsys, "commit", "support/reply", "-f", "a.yaml", "-m", "x")
    assert code == 2 and "reads variable 'customer_id': declare it" in err
    (home / "b.yaml").write_text(PROMPT.replace("{sensitivity: sensitive, source", "{source"))
    code, _, err = run(capsys, "commit", "support/reply", "-f", "b.yaml", "-m", "x")
    assert code == 2 and "field 'email' of data source 'crm' is sensitive" in err
    (home / "c.yaml").write_text(
        PROMPT.replace("source: crm, field: plan", "source: crm, field: plan, row: 0")
    )
    code, _, err = run(capsys, "commit", "support/reply", "-f", "c.yaml", "-m", "x")
    assert code == 2 and "variable 'plan' binding row" in err
    (home / "d.yaml").write_text(
        PROMPT.replace("source: crm, field: plan", "source: nope, field: plan")
    )
    code, _, err = run(capsys, "commit", "support/reply", "-f", "d.yaml", "-m", "x")
    assert code == 2 and "source 'nope', which this vault does not have" in err


@pytest.mark.keychain
def test_an_http_source_with_its_credential_in_the_keychain(
    home: Path, capsys: pytest.CaptureFixture[str], secret_service: KeyringStore
) -> None:
    secret_service.set("crm-api", TOKEN)
    with serve_api() as api:
        code, _, err = run(capsys, "source", "add", "people", "--kind", "http", "--url",
                           api.url + "/customers/{who}", "--record-path", "items",
                           "--credential", "crm-api", "--allow-prompt", "support/hi")  # fmt: skip
        assert code == 0, err
        (home / "h.yaml").write_text(
            "messages: [{role: user, content: 'Hi {{ name }} on {{ plan }}'}]\n"
            "variables:\n  name: {source: people, field: name}\n"
            "  plan: {source: people, field: plan}\n  who: {}\n"
        )
        assert run(capsys, "commit", "support/hi", "-f", "h.yaml", "-m", "1")[0] == 0
        (home / "cases.csv").write_text("name,who\none,Ada Lovelace\ntwo,Bob\nthree,Bob\n")
        code, data, err = _compare(capsys, "support/hi")
        assert code == 0, err
        cells = sorted(data["run"]["cells"], key=lambda c: c["key"]["case_index"])
        assert cells[0]["rendered"][0]["content"] == "Hi Ada Lovelace on pro"
        assert api.seen == [  # one request per distinct URL, for both variables
            ("/customers/Ada%20Lovelace", f"Bearer {TOKEN}"),
            ("/customers/Bob", f"Bearer {TOKEN}"),
        ]
    with Vault.open(home / "data" / "vault.sqlite3") as vault:
        actions = [(e.action, e.subject) for e in vault.audit_events()]
    assert actions.count(("key.read", "crm-api")) == 1  # the keychain asked once per run
    assert actions.count(("source.resolve", "people")) == 1
    for path in (home / "data").rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    # The server gone: the case fails saying so, as could-not-run (exit 3).
    code, data, _ = _compare(capsys, "support/hi")
    assert code == 3
    cell = data["run"]["cells"][0]
    assert cell["error_kind"] == "source_unavailable"
    assert "data source 'people'" in cell["error"] and "could not be reached" in cell["error"]
    # The URL template is named, not the filled URL (its values may be sensitive).
    assert not [c for c in data["run"]["cells"] if "Ada" in c["error"] or "Bob" in c["error"]]
    with Vault.open(home / "data" / "vault.sqlite3") as vault:
        last = [e for e in vault.audit_events() if e.action == "source.resolve"][-1]
    assert (last.detail["reads"], last.detail["failed"], last.detail["rows"]) == (2, 2, 0)
    assert last.detail["cases"] == 3


def test_an_estimate_checks_access_and_reads_nothing(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from workbench.app.budget import preflight
    from workbench.app.services import make_engine
    from workbench.core.runs import ModelRef, RunSpec, TestCase
    from workbench.secrets import MemoryStore
    from workbench.settings import Budgets

    _add_crm(capsys)
    assert run(capsys, "commit", "support/reply", "-f", "p.yaml", "-m", "1")[0] == 0
    with Vault.open(home / "data" / "vault.sqlite3") as vault:
        version = vault.get_version("support/reply")
        spec = RunSpec(
            prompt="support/reply", version_ids=(version.id,),
            models=(ModelRef(profile="echo", model="echo"),),
            cases=(TestCase(name="a", values={"customer_id": 1, "question": "q"}),),
        )  # fmt: skip
        engine = make_engine(vault, store=MemoryStore())
        _spec, estimate = preflight(engine, spec, Budgets())
        assert estimate.unrenderable_calls == 0 and estimate.input_tokens > 0
        assert not [e for e in vault.audit_events() if e.action == "source.resolve"]
        run(capsys, "source", "edit", "crm", "--deny-prompt", "support/", "--allow-prompt", "x")
        with pytest.raises(SourceAccessError, match="run refused"):
            preflight(engine, spec, Budgets())
