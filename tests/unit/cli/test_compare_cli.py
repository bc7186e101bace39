"""``workbench provider|key|compare|runs`` end to end, against the local provider server."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.providerserver.server import DEFAULT_KEY, ProviderServer
from workbench.cli.main import main
from workbench.secrets.keyring_store import KeyringStore
from workbench.vault import Vault

PROMPT = """\
messages:
  - role: system
    content: You are a support agent. Be brief.
  - role: user
    content: "{{ question }}"
model: {temperature: 0.2, max_tokens: 200}
"""
CASES = "name,question\nreset,How do I reset my password?\norder,Where is my order?\n"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("WORKBENCH_VAULT", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.yaml").write_text(PROMPT)
    (tmp_path / "cases.csv").write_text(CASES)
    return tmp_path


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    with ProviderServer() as s:
        s.script("gpt-4o-mini", ttft=0.02, input_tokens=50, output_tokens=12)
        yield s


def add_env_provider_and_prompt(capsys: pytest.CaptureFixture[str], server: ProviderServer) -> None:
    """Profile 'oa' on the local server, its key from $OA_KEY (as in CI); prompt 'p'."""
    run(capsys, "provider", "add", "oa", "--family", "openai",
        "--base-url", server.base_url("openai"), "--key-env", "OA_KEY")  # fmt: skip
    run(capsys, "commit", "p", "-f", "p.yaml", "-m", "1")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.keychain
def test_compare_with_key_in_keychain_leaks_nowhere(
    env: Path,
    server: ProviderServer,
    secret_service: KeyringStore,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = server.base_url("openai")
    assert (
        run(
            capsys,
            "provider",
            "add",
            "oa",
            "--family",
            "openai",
            "--base-url",
            url,
            "--key-name",
            "oa-key",
        )[0]
        == 0
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(DEFAULT_KEY + "\n"))
    code, out, _ = run(capsys, "key", "set", "oa-key")
    assert code == 0
    assert "SecretService" in out
    assert secret_service.get("oa-key") == DEFAULT_KEY
    run(capsys, "commit", "support/reply", "-f", "p.yaml", "-m", "first")
    (env / "p.yaml").write_text(PROMPT.replace("Be brief.", "Be brief and kind."))
    run(capsys, "commit", "support/reply", "-f", "p.yaml", "-m", "kinder")

    code, out, err = run(
        capsys,
        "compare",
        "support/reply",
        "--versions",
        "latest,latest~",
        "--models",
        "oa:gpt-4o-mini",
        "--cases",
        "cases.csv",
    )
    assert code == 2  # 'latest~' is not a version reference
    assert "no version 'latest~'" in err
    history = json.loads(run(capsys, "vault", "history", "support/reply", "--json")[1])
    ids = ",".join(v["id"][:8] for v in history)
    code, out, err = run(
        capsys,
        "-v",
        "compare",
        "support/reply",
        "--versions",
        ids,
        "--models",
        "oa:gpt-4o-mini,oa:test-model,echo:echo",
        "--cases",
        "cases.csv",
        "--json",
    )
    assert code == 0, err
    data = json.loads(out)
    cells = data["run"]["cells"]
    assert len(cells) == 2 * 3 * 2
    mini = [c for c in cells if c["key"]["model"]["model"] == "gpt-4o-mini"]
    assert {(c["input_tokens"], c["output_tokens"]) for c in mini} == {(50, 12)}
    assert all(c["cost_usd"] is not None and c["cost_usd"] > 0 for c in mini)
    unknown = [c for c in cells if c["key"]["model"]["model"] == "test-model"]
    assert all(c["cost_usd"] is None for c in unknown)
    assert {len(server.requests_for("gpt-4o-mini"))} == {4}
    assert all(r.headers["authorization"] == f"Bearer {DEFAULT_KEY}" for r in server.requests)

    # Offline afterwards: the run reopens from the vault, the CSV export works.
    server.stop()
    run_id = data["run"]["id"]
    code, out, _ = run(capsys, "runs", "show", run_id[:8])
    assert code == 0
    assert "gpt-4o-mini" in out
    code, csv_out, _ = run(capsys, "runs", "show", run_id[:8], "--csv")
    rows = list(csv.DictReader(io.StringIO(csv_out)))
    assert len(rows) == 12
    assert {r["model"] for r in rows} == {"gpt-4o-mini", "test-model", "echo"}
    (env / "export.csv").write_text(csv_out)
    run(capsys, "vault", "export", "-o", "bundle.json")

    # The key appears in no file the app wrote, no output and no log record.
    key = DEFAULT_KEY.encode()
    written = [p for p in env.rglob("*") if p.is_file()]
    assert any(p.name == "vault.sqlite3" for p in written)
    assert [p for p in written if key in p.read_bytes()] == []
    assert DEFAULT_KEY not in caplog.text
    with Vault.open(env / "data" / "vault.sqlite3") as vault:
        reads = [e for e in vault.audit_events() if e.action == "key.read"]
    assert reads
    assert reads[0].subject == "oa-key"
    assert reads[0].detail == {"source": "keychain"}


def test_key_from_environment_for_ci(
    env: Path,
    server: ProviderServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OA_KEY", DEFAULT_KEY)
    add_env_provider_and_prompt(capsys, server)
    code, out, err = run(
        capsys, "compare", "p", "--models", "oa:gpt-4o-mini", "--cases", "cases.csv"
    )
    assert code == 0, err
    assert "oa:gpt-4o-mini" in out
    assert "TTFT p50/p95" in out
    settings = (env / "data" / "settings.json").read_text()
    assert "OA_KEY" in settings
    assert DEFAULT_KEY not in settings


def test_compare_bad_input(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "commit", "p", "-f", "p.yaml", "-m", "1")
    code, _, err = run(capsys, "compare", "p", "--models", "nope:gpt")
    assert code == 2
    assert "no provider profile named 'nope'" in err
    code, _, err = run(capsys, "compare", "p", "--models", "gpt-4o")
    assert code == 2
    assert "PROFILE:MODEL" in err
    code, _, err = run(capsys, "compare", "p", "--models", "echo:echo")
    assert code == 2
    assert "question" in err  # the variable nobody gave
    (env / "bad.csv").write_bytes(b"name,question\n\xff\xfe,x\n")
    code, _, err = run(capsys, "compare", "p", "--cases", "bad.csv")
    assert code == 2
    assert "not UTF-8" in err
    code, _, err = run(
        capsys,
        "provider",
        "add",
        "x",
        "--family",
        "openai",
        "--base-url",
        "https://user:pw@example.com",
    )
    assert code == 2
    assert "credentials" in err


def test_wrong_key_is_a_cell_error(
    env: Path,
    server: ProviderServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OA_KEY", "sk-not-the-right-one-123456")
    add_env_provider_and_prompt(capsys, server)
    code, out, err = run(
        capsys, "compare", "p", "--models", "oa:gpt-4o-mini,echo:echo", "--cases", "cases.csv"
    )
    assert code == 3  # some calls could not be made (a refused key); the rest completed
    assert "authentication" in out.lower() or "key" in out.lower()
    assert "sk-not-the-right-one-123456" not in out + err


def test_quick_try_with_var_shows_the_answer(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "commit", "p", "-f", "p.yaml", "-m", "1")
    code, out, _ = run(capsys, "compare", "p", "--var", "question=Where is my parcel?")
    assert code == 0
    assert "echo:echo (echo)" in out
    assert "Where is my parcel?" in out.split("--- ", 1)[1]  # the answer under the table
    code, _, err = run(capsys, "compare", "p", "--var", "question")
    assert code == 2
    assert "NAME=VALUE" in err


def test_run_chart_renders_headless(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "commit", "p", "-f", "p.yaml", "-m", "1")
    code, out, _ = run(capsys, "compare", "p", "--cases", "cases.csv", "--repeat", "2", "--json")
    run_id = json.loads(out)["run"]["id"]
    code, out, _ = run(capsys, "runs", "chart", run_id[:8], "-o", "run.png")
    assert code == 0
    assert (env / "run.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run(capsys, "runs", "chart", run_id[:8], "-o", "run.svg")[0] == 0
    assert b"<svg" in (env / "run.svg").read_bytes()[:400]
    code, _, err = run(capsys, "runs", "chart", run_id[:8], "-o", "run.txt")
    assert code == 2
    assert ".png" in err


def test_cases_live_in_the_vault_and_compare_uses_them(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "commit", "p", "-f", "p.yaml", "-m", "1")
    code, out, _ = run(capsys, "cases", "set", "p", "cases.csv")
    assert code == 0
    assert "2 test cases" in out
    code, out, _ = run(capsys, "cases", "show", "p", "--json")
    assert [c["name"] for c in json.loads(out)] == ["reset", "order"]
    code, out, _ = run(capsys, "compare", "p", "--json")  # no --cases: the stored ones
    assert code == 0
    assert len(json.loads(out)["run"]["cells"]) == 2
    run(capsys, "vault", "export", "-o", "b.json")
    bundle = json.loads((env / "b.json").read_text())
    assert [c["name"] for c in bundle["prompts"][0]["test_cases"]] == ["reset", "order"]
    code, _, err = run(capsys, "cases", "show", "nope")
    assert code == 2
    assert "no prompt named 'nope'" in err


def test_eval_is_a_ci_gate_with_junit(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "commit", "p", "-f", "p.yaml", "-m", "1")
    # The echo provider answers with the rendered prompt, so assertions are predictable.
    (env / "suite.yaml").write_text(
        "- name: reset\n  question: How do I reset my password?\n"
        "  assert: {contains: reset, max_chars: 500}\n"
        "- name: order\n  question: Where is my order?\n"
        "  assert: {contains: refund}\n"
    )
    assert run(capsys, "cases", "set", "p", "suite.yaml")[0] == 0
    code, out, _ = run(capsys, "eval", "p", "--junit", "report.xml")
    assert code == 1  # 'order' does not mention a refund
    assert "FAIL" in out
    assert "order: contains 'refund'" in out
    xml = (env / "report.xml").read_text()
    assert 'tests="2" failures="1"' in xml
    assert "contains &apos;refund&apos;" in xml or "contains 'refund'" in xml
    code, out, _ = run(capsys, "eval", "p", "--min-pass-rate", "0.5", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["ok"] is True
    assert data["groups"][0]["passed"] == 1
    assert data["groups"][0]["failed"] == 1
