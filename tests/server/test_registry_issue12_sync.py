"""Issue 12, items 11 and 14, with real vaults syncing to the registry under uvicorn,
on SQLite and PostgreSQL: the author's own vault names the registry user as the author
of its pushed versions; after a token rotation the hint says to log in again; a
deduplicated queued review is not counted as pushed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server.conftest import RunningRegistry
from workbench.core.models import Message, PromptContent
from workbench.registry.client import RegistryClient
from workbench.registry.errors import AuthenticationError
from workbench.registry.sync import Syncer
from workbench.vault import Vault
from workbench.vault.sync_store import SyncStore


def _content(text: str) -> PromptContent:
    return PromptContent(messages=(Message(role="user", template=text),))


def _vault(tmp_path: Path, name: str, actor: str) -> Vault:
    return Vault.open(tmp_path / f"{name}.sqlite3", create=True, actor=actor)


def test_own_vault_shows_the_registry_user_as_author(
    tmp_path: Path, registry: RunningRegistry
) -> None:
    mine = _vault(tmp_path, "alice", actor="os-login-name")
    v = mine.commit("support/reply", _content("Hello {{ name }}"), "first")
    assert mine.version_by_id(v.id).author == "os-login-name"  # a draft: the local name
    assert Syncer(mine, registry.client("alice")).sync().pushed_versions == 1
    pushed = mine.version_by_id(v.id)
    assert (pushed.number, pushed.author) == (1, "alice")
    other = _vault(tmp_path, "bob", actor="bob")
    Syncer(other, registry.client("bob")).sync()
    assert other.version_by_id(v.id).author == "alice"
    assert registry.client("carol").version(v.id).author == "alice"


def test_after_rotation_the_hint_says_log_in_again(
    tmp_path: Path, registry: RunningRegistry
) -> None:
    vault = _vault(tmp_path, "alice", actor="alice")
    vault.commit("support/reply", _content("Hello {{ name }}"), "first")
    old = registry.tokens["alice"]
    registry.service.rotate_token("alice")
    with RegistryClient(registry.url, old) as client, pytest.raises(AuthenticationError) as info:
        Syncer(vault, client).sync()
    hint = info.value.hint
    assert f"workbench registry login {registry.url}" in hint
    assert "new token" in hint
    assert old not in hint and old not in info.value.message
    assert len(SyncStore(vault).drafts()) == 1  # nothing lost; it goes up after the login


def test_a_deduplicated_queued_review_is_not_counted_as_pushed(
    tmp_path: Path, registry: RunningRegistry
) -> None:
    author = _vault(tmp_path, "alice", actor="alice")
    author.commit("support/reply", _content("Hello {{ name }}"), "first")
    Syncer(author, registry.client("alice")).sync()
    reviewer = _vault(tmp_path, "bob", actor="bob")
    bob = Syncer(reviewer, registry.client("bob"))
    bob.sync()
    (version,) = reviewer.history("support/reply")
    bob.queue_review(version, "approve", "reads well")
    bob.queue_review(version, "approve", "reads well")  # the same decision, queued twice
    report = bob.sync()
    assert (report.pushed_decisions, report.already_sent_decisions) == (1, 1)
    assert "1 decisions (1 already in the registry)" in report.summary()
    assert report.rejected == []
    assert len(registry.client("carol").reviews(version.id)) == 1
    assert SyncStore(reviewer).outbox(include_rejected=True) == []
    again = bob.sync()
    assert (again.pushed_decisions, again.already_sent_decisions) == (0, 0)
