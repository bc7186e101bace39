"""``workbench eval --against production`` takes the baseline from the registry's label
as the last sync mirrored it: v1 is published to production on a real registry, the
author syncs, commits a draft that breaks a case, and with the registry stopped the
regression view finds v1 as production and reports the broken case (exit 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.server.conftest import RunningRegistry, running_registry
from workbench.cli.main import main
from workbench.core.assertions import Assertion
from workbench.core.models import Message, PromptContent
from workbench.core.runs import TestCase
from workbench.registry.review import publish
from workbench.registry.server.config import RegistrySettings
from workbench.registry.sync import Syncer
from workbench.vault import Vault


def content(text: str) -> PromptContent:
    return PromptContent(messages=(Message(role="user", template=text),))


def _publish_v1(registry: RunningRegistry, tmp_path: Path, alice_path: Path) -> None:
    with Vault.open(alice_path, create=True, actor="alice") as alice:
        v1 = alice.commit("support/reply", content("Hello {{ name }}, thanks"), "first")
        alice.set_test_cases(
            "support/reply",
            [TestCase(name="thanks", values={"name": "Ada"},
                      assertions=(Assertion(type="contains", value="thanks"),))],
        )  # fmt: skip
        Syncer(alice, registry.client("alice")).sync()
    with Vault.open(tmp_path / "bob.sqlite3", create=True, actor="bob") as bob:
        sync = Syncer(bob, registry.client("bob"))
        sync.sync()
        sync.queue_review(bob.version_by_id(v1.id), "approve", "good")
        assert sync.sync().rejected == []
    with Vault.open(tmp_path / "carol.sqlite3", create=True, actor="carol") as carol:
        Syncer(carol, registry.client("carol")).sync()
        with registry.client("carol") as client:
            publish(client, carol.version_by_id(v1.id), "production", expected=None,
                    reason="launch")  # fmt: skip
    with Vault.open(alice_path) as alice:
        Syncer(alice, registry.client("alice")).sync()  # the label reaches the mirror
        alice.commit("support/reply", content("Hello {{ name }}"), "shorter")


def test_the_baseline_is_the_mirrored_registry_label_offline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    alice_path = tmp_path / "alice.sqlite3"
    settings = RegistrySettings(db_url=f"sqlite:///{tmp_path / 'registry.sqlite3'}")
    with running_registry(settings) as registry:
        _publish_v1(registry, tmp_path, alice_path)
    # The registry is gone: the vault's mirror answers.
    code = main(["eval", "support/reply", "--vault", str(alice_path), "--models", "echo:echo",
                 "--against", "production", "--json"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 1, out + err
    data = json.loads(out)
    assert data["baseline"] == "v1" and data["candidate"].startswith("draft 2")
    assert data["against"] == "production"
    [change] = data["changes"]
    assert (change["case"], change["change"]) == ("thanks", "regressed")
    assert "-Hello Ada, thanks" in change["diff"] and "+Hello Ada" in change["diff"]
