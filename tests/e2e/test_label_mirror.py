"""Registry labels reach the vault: after publishing production → v3 and a sync, the
vault alone (the registry stopped) shows the label on v3 in ``workbench vault history``,
``vault list --label`` and the label filter, with the label's history; authors and
version names come from the registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.server.conftest import running_registry
from workbench.cli.main import main
from workbench.core.errors import UsageError
from workbench.core.models import Message, PromptContent
from workbench.registry.review import current_label, publish
from workbench.registry.server.config import RegistrySettings
from workbench.registry.sync import Syncer
from workbench.vault import Vault
from workbench.vault.sync_store import SyncStore


def content(text: str) -> PromptContent:
    return PromptContent(messages=(Message(role="user", template=text),))


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return code, out


def test_published_label_is_in_the_vault_offline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WORKBENCH_AUTHOR", raising=False)
    alice_path, carol_path = tmp_path / "alice.sqlite3", tmp_path / "carol.sqlite3"
    settings = RegistrySettings(db_url=f"sqlite:///{tmp_path / 'registry.sqlite3'}")
    with running_registry(settings) as registry:
        # Alice's vault is opened without a name: before any sync it commits as the OS
        # login (or WORKBENCH_AUTHOR); drafts are named by their place in the history.
        with Vault.open(alice_path, create=True) as alice:
            v1 = alice.commit("support/reply", content("Hello {{ name }}"), "first")
            v2 = alice.commit("support/reply", content("Hi {{ name }}"), "shorter")
            v3 = alice.commit("support/reply", content("Hi {{ name }}, how can I help?"), "ask")
            assert [v.display_number for v in alice.history("support/reply")] == [
                f"draft {n} ({v.id.hex[:6]})" for n, v in enumerate((v1, v2, v3), 1)
            ]
            assert alice.get_version("support/reply", "draft 2").id == v2.id
            # A local label before the prompt is in the registry.
            alice.move_label("support/reply", "staging", v1.id)
            report = Syncer(alice, registry.client("alice")).sync()
            assert report.pushed_versions == 3
            assert report.dropped_local_labels == ["support/reply@staging"]
            history = alice.history("support/reply")
            assert [v.display_number for v in history] == ["v1", "v2", "v3"]
            assert {v.author for v in history} == {"alice"}  # the registry's word
            assert alice.labels("support/reply") == []
        # Reopened, the vault knows its registry login: that is who commits now.
        with Vault.open(alice_path) as alice:
            assert alice.actor == "alice"

        bob = Vault.open(tmp_path / "bob.sqlite3", create=True, actor="bob")
        with bob:
            bob_sync = Syncer(bob, registry.client("bob"))
            bob_sync.sync()
            bob_sync.queue_review(bob.version_by_id(v3.id), "approve", "good")
            bob_sync.queue_review(bob.version_by_id(v2.id), "approve", "fine")
            assert bob_sync.sync().rejected == []

        with Vault.open(carol_path, create=True, actor="carol") as carol:
            Syncer(carol, registry.client("carol")).sync()
            with registry.client("carol") as client:
                state = publish(
                    client, carol.version_by_id(v2.id), "production", expected=None,
                    reason="launch",
                )  # fmt: skip
                publish(
                    client, carol.version_by_id(v3.id), "production", expected=state,
                    reason="asks what they need",
                )  # fmt: skip
                assert current_label(client, "support/reply", "production") is not None
            report = Syncer(carol, registry.client("carol")).sync()
            assert report.labels >= 1
            assert report.vault_changed
            # A local move of a registry label is refused, saying how to publish.
            with pytest.raises(UsageError, match="registry") as info:
                carol.move_label("support/reply", "production", v1.id)
            assert "publish" in (info.value.hint or "")

    # The registry is gone; the vault alone answers.
    _, out = cli(capsys, "vault", "history", "support/reply", "--vault", str(carol_path))
    line = next(row for row in out.splitlines() if row.startswith("v3"))
    assert "production" in line
    assert not any("production" in row for row in out.splitlines() if row.startswith("v2"))
    _, out = cli(capsys, "vault", "history", "support/reply", "--vault", str(carol_path), "--json")
    rows = {r["number"]: r["labels"] for r in json.loads(out)}
    assert rows == {3: ["production"], 2: [], 1: []}
    _, out = cli(capsys, "vault", "list", "--label", "production", "--vault", str(carol_path))
    assert "support/reply" in out
    _, out = cli(capsys, "vault", "list", "--label", "staging", "--vault", str(carol_path))
    assert "support/reply" not in out

    with Vault.open(carol_path) as carol:
        # The label filter of the vault browser asks the same question.
        assert [p.name for p in carol.list_prompts(label="production")] == ["support/reply"]
        (label,) = carol.labels("support/reply")
        assert (label.name, label.version_id, label.source) == ("production", v3.id, "registry")
        assert label.updated_by == "carol"
        assert label.protected
        moves = carol.label_history("support/reply")
        assert [(m.label, m.to_number, m.actor, m.reason) for m in moves] == [
            ("production", 2, "carol", "launch"),
            ("production", 3, "carol", "asks what they need"),
        ]
        assert moves[1].from_version_id == v2.id
        assert [lab.version_id for lab in SyncStore(carol).registry_labels()] == [v3.id]
