"""A registry that requires passing eval evidence: the reviewer runs `workbench eval`,
approves (the run is attached whenever the vault has one; `--evidence` requires it),
and only then may the publisher publish."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import TeamCli
from workbench.cli.main import main
from workbench.secrets.keyring_store import KeyringStore
from workbench.vault import Vault
from workbench.vault.sync_store import SyncStore

PROMPT = 'messages:\n  - role: user\n    content: "Answer briefly: {{ question }}"\n'
SUITE = (
    "- name: reset\n  question: How do I reset my password?\n"
    "  assert: {contains: password, max_chars: 300}\n"
)


@pytest.mark.keychain
def test_eval_evidence_gates_production(
    tmp_path: Path, team_cli: TeamCli, secret_service: KeyringStore
) -> None:
    as_, run = team_cli.as_, team_cli.run
    (tmp_path / "p.yaml").write_text(PROMPT)
    (tmp_path / "suite.yaml").write_text(SUITE)

    as_("alice")
    run("commit", "faq", "-f", "p.yaml", "-m", "first")
    run("cases", "set", "faq", "suite.yaml")
    assert run("sync")[0] == 0

    as_("bob")
    run("sync")  # the suite travels with sync: bob has alice's cases
    code, _, err = run("review", "approve", "faq", "v1", "--evidence")
    assert code == 2  # no run of v1 in this vault yet
    assert "workbench eval faq" in err
    code, out, _ = run("review", "approve", "faq", "v1")  # an approval without evidence
    assert code == 0

    as_("carol")
    code, _, err = run("publish", "faq", "--version", "1", "--reason", "launch")
    assert code == 2
    assert "evidence" in err  # the server's reason

    as_("bob")
    code, out, _ = run("eval", "faq", "--models", "echo:echo", "--json")
    assert code == 0
    assert json.loads(out)["ok"] is True
    # No --evidence: the finished run is attached anyway, as the window does (one rule);
    # --evidence only makes it required.
    code, out, err = run("review", "approve", "faq", "v1", "-m", "eval passed")
    assert code == 0, err
    with Vault.open(tmp_path / "bob" / "vault.sqlite3") as vault:
        reviews = SyncStore(vault).all_reviews()
    assert any(r["evidence"] and r["evidence"]["passed"] == 1 for r in reviews)

    as_("carol")
    code, out, err = run("publish", "faq", "--version", "1", "--reason", "launch")
    assert code == 0, err


def test_offline_approval_is_queued_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    from workbench.settings import Settings, save_settings

    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WORKBENCH_REGISTRY_TOKEN", "wbr_not-used-offline")
    monkeypatch.delenv("WORKBENCH_VAULT", raising=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    save_settings(Settings(registry_url=f"http://127.0.0.1:{port}"))
    with Vault.open(tmp_path / "data" / "vault.sqlite3", create=True) as vault:
        from workbench.core.models import Message, PromptContent

        v = vault.commit("p", PromptContent(messages=(Message(role="user", template="x"),)), "1")
        vault.set_number(v.id, 1)  # as if pushed earlier
    code = main(["review", "approve", "p", "v1"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "queued" in out
    with Vault.open(tmp_path / "data" / "vault.sqlite3") as vault:
        assert len(SyncStore(vault).outbox()) == 1
