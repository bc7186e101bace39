"""Two vaults (an author; a reviewer and publisher) and a real registry under uvicorn."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.server.conftest import RunningRegistry
from workbench.core.errors import HashMismatchError
from workbench.core.models import Message, PromptContent
from workbench.registry.client import RegistryClient
from workbench.registry.errors import AuthenticationError, RegistryUnavailableError
from workbench.registry.schemas import LabelTarget
from workbench.registry.sync import Syncer
from workbench.vault import Vault
from workbench.vault.sync_store import SyncStore


def content(text: str) -> PromptContent:
    return PromptContent(messages=(Message(role="user", template=text),))


def open_vault(tmp_path: Path, who: str) -> Vault:
    return Vault.open(tmp_path / f"{who}.sqlite3", create=True, actor=who)


def test_author_reviewer_publisher_round_trip(tmp_path: Path, registry: RunningRegistry) -> None:
    author = open_vault(tmp_path, "alice")
    v1 = author.commit("support/reply", content("Hello {{ name }}"), "first")
    v2 = author.commit("support/reply", content("Hi {{ name }}, how can I help?"), "friendlier")
    assert SyncStore(author).statuses() == {"support/reply": "local"}

    report = Syncer(author, registry.client("alice")).sync()
    assert report.pushed_versions == 2
    assert [v.number for v in author.history("support/reply")] == [1, 2]
    assert SyncStore(author).statuses() == {"support/reply": "synced"}

    reviewer = open_vault(tmp_path, "bob")
    bob = Syncer(reviewer, registry.client("bob"))
    assert bob.sync().new_versions == 2
    pulled = reviewer.history("support/reply")
    assert [(v.id, v.number, v.content_hash) for v in pulled] == [
        (v.id, n, v.content_hash) for v, n in ((v1, 1), (v2, 2))
    ]
    for version in pulled:
        bob.queue_review(version, "approve", "reads well")
    report = bob.sync()
    assert report.pushed_decisions == 2
    assert report.rejected == []
    assert {r["decision"] for r in SyncStore(reviewer).reviews_for(v2.id)} == {"approve"}

    # An author (role author) cannot review at all; a publisher cannot approve their own
    # version. The server says why, and the decision stays visible in the outbox.
    alice = Syncer(author, registry.client("alice"))
    alice.queue_review(author.version_by_id(v2.id), "approve")
    report = alice.sync()
    assert len(report.rejected) == 1
    assert "reviewer" in report.rejected[0]
    entry = SyncStore(author).outbox()[0]
    assert entry.status == "rejected"
    assert entry.error
    publisher_vault = open_vault(tmp_path, "carol")
    carol_sync = Syncer(publisher_vault, registry.client("carol"))
    carol_sync.sync()
    own = publisher_vault.commit("support/reply", content("Carol's take on {{ name }}"), "mine")
    carol_sync.sync()
    carol_sync.queue_review(publisher_vault.version_by_id(own.id), "approve")
    report = carol_sync.sync()
    assert len(report.rejected) == 1
    assert "cannot approve" in report.rejected[0]

    # The publisher publishes v2, then rolls back to v1.
    with registry.client("carol") as carol:
        carol.move_label(
            "support/reply",
            "production",
            target=LabelTarget(version_id=v2.id),
            expected=None,
            reason="launch",
        )
        resolved, _ = carol.resolve("support/reply", "production")
        assert resolved is not None
        assert resolved.version.id == v2.id
        carol.move_label(
            "support/reply",
            "production",
            target=LabelTarget(version_id=v1.id),
            expected=LabelTarget(version_id=v2.id),
            reason="rollback",
        )
    with registry.client("alice") as third:
        resolved, _ = third.resolve("support/reply")
        assert resolved is not None
        assert resolved.version.id == v1.id
    Syncer(reviewer, registry.client("bob")).sync()
    labels = SyncStore(reviewer).registry_labels("support/reply")
    assert [(lab.name, lab.version_id) for lab in labels] == [("production", v1.id)]


def test_forks_are_kept_and_shown(tmp_path: Path, registry: RunningRegistry) -> None:
    a = open_vault(tmp_path, "alice")
    root = a.commit("p", content("root"), "root")
    Syncer(a, registry.client("alice")).sync()
    b = open_vault(tmp_path, "bob")
    Syncer(b, registry.client("bob")).sync()
    # Offline, both continue from the same parent.
    ca = a.commit("p", content("alice's idea"), "a", parents=[root.id])
    cb = b.commit("p", content("bob's idea"), "b", parents=[root.id])
    Syncer(a, registry.client("alice")).sync()
    Syncer(b, registry.client("bob")).sync()
    Syncer(a, registry.client("alice")).sync()
    for vault in (a, b):
        assert {v.id for v in vault.heads("p")} == {ca.id, cb.id}
        assert SyncStore(vault).statuses() == {"p": "forked"}
        assert sorted(v.number or 0 for v in vault.history("p")) == [1, 2, 3]
    # An author continues from either head.
    merged = a.commit("p", content("both ideas"), "merge", parents=[ca.id, cb.id])
    Syncer(a, registry.client("alice")).sync()
    assert [v.id for v in a.heads("p")] == [merged.id]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_offline_work_goes_on_and_syncs_later(tmp_path: Path, registry: RunningRegistry) -> None:
    vault = open_vault(tmp_path, "alice")
    v = vault.commit("p", content("offline"), "written on a train")
    url = f"http://127.0.0.1:{_closed_port()}"
    with (
        RegistryClient(url, "wbr_x") as down,
        pytest.raises(RegistryUnavailableError, match="cannot reach") as info,
    ):
        down.changes(0)
    assert "kept locally" in info.value.hint
    assert vault.history("p")[0].number is None  # still a draft, nothing lost
    report = Syncer(vault, registry.client("alice")).sync()
    assert report.pushed_versions == 1
    assert vault.version_by_id(v.id).number == 1


def test_unreachable_registry_keeps_everything(tmp_path: Path) -> None:
    vault = open_vault(tmp_path, "alice")
    vault.commit("p", content("offline"), "written on a train")
    url = f"http://127.0.0.1:{_closed_port()}"
    with RegistryClient(url, "wbr_x") as down, pytest.raises(RegistryUnavailableError):
        Syncer(vault, down).sync()
    assert vault.history("p")[0].number is None


def test_revoked_token(tmp_path: Path, registry: RunningRegistry) -> None:
    vault = open_vault(tmp_path, "alice")
    vault.commit("p", content("x"), "x")
    registry.service.disable_user("alice")
    with pytest.raises(AuthenticationError) as info:
        Syncer(vault, registry.client("alice")).sync()
    assert info.value.hint
    assert registry.tokens["alice"] not in info.value.describe()
    assert vault.history("p")[0].number is None


def test_tampered_version_from_the_server_is_refused(
    tmp_path: Path, registry: RunningRegistry
) -> None:
    a = open_vault(tmp_path, "alice")
    a.commit("p", content("genuine"), "1")
    Syncer(a, registry.client("alice")).sync()
    from sqlalchemy import text

    with registry.db.write_engine.begin() as conn:
        conn.execute(text("UPDATE versions SET content = replace(content, 'genuine', 'forged')"))
    b = open_vault(tmp_path, "bob")
    with pytest.raises(HashMismatchError):
        Syncer(b, registry.client("bob")).sync()
    assert b.prompt_names() == []
    assert SyncStore(b).cursor() == 0
