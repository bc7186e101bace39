"""The team flow through the ``workbench`` CLI: login, sync, review, publish, rollback,
and a production app reading the result through ``resolve`` and the Langfuse SDK."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.server.conftest import RunningRegistry
from workbench.cli.main import main
from workbench.registry.client import RegistryClient
from workbench.secrets.keyring_store import KeyringStore

PROMPT = """\
messages:
  - role: system
    content: You are a support agent for {{ product }}.
  - role: user
    content: "{{ question }}"
"""


class People:
    def __init__(
        self,
        root: Path,
        registry: RunningRegistry,
        mp: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        self.root, self.registry, self.mp, self.capsys = root, registry, mp, capsys

    def as_(self, who: str) -> None:
        """Switch to ``who``'s machine (data dir) and log in with their token."""
        self.mp.setenv("WORKBENCH_DATA_DIR", str(self.root / who))
        self.mp.setenv("WORKBENCH_AUTHOR", who)
        self.mp.setattr("sys.stdin", io.StringIO(self.registry.tokens[who] + "\n"))
        code, out, err = self.run("registry", "login", self.registry.url)
        assert code == 0, err
        assert f"as {who}" in out

    def run(self, *argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.mark.keychain
def test_team_flow_through_the_cli(
    tmp_path: Path,
    registry: RunningRegistry,
    secret_service: KeyringStore,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("WORKBENCH_VAULT", raising=False)
    monkeypatch.delenv("WORKBENCH_REGISTRY_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.yaml").write_text(PROMPT)
    team = People(tmp_path, registry, monkeypatch, capsys)

    team.as_("alice")
    assert team.run("commit", "support/reply", "-f", "p.yaml", "-m", "first")[0] == 0
    code, out, _ = team.run("sync")
    assert code == 0
    assert "pushed 1 versions" in out
    settings = (tmp_path / "alice" / "settings.json").read_text()
    assert registry.tokens["alice"] not in settings

    team.as_("bob")
    assert team.run("sync")[0] == 0
    code, out, _ = team.run("review", "list", "--json")
    assert [(r["prompt"], r["version"]) for r in json.loads(out)] == [("support/reply", 1)]
    code, out, err = team.run("review", "approve", "support/reply", "v1", "-m", "good")
    assert code == 0, err
    assert json.loads(team.run("review", "list", "--json")[1]) == []

    team.as_("alice")
    code, out, _ = team.run("review", "approve", "support/reply", "v1")
    assert code == 2
    assert "reviewer" in out  # the server's reason reaches the person

    team.as_("carol")
    code, out, err = team.run(
        "publish", "support/reply", "--version", "1", "--label", "production", "--reason", "launch"
    )
    assert code == 0, err
    assert "approved by: bob" in out

    team.as_("alice")
    (tmp_path / "p.yaml").write_text(PROMPT.replace("agent", "specialist"))
    team.run("commit", "support/reply", "-f", "p.yaml", "-m", "specialist")
    team.run("sync")
    team.as_("carol")
    code, out, err = team.run("publish", "support/reply", "--version", "2", "--reason", "early")
    assert code == 2
    assert "approv" in err  # not approved yet: refused, with the reason
    team.as_("bob")
    team.run("sync")
    assert team.run("review", "approve", "support/reply", "v2")[0] == 0
    team.as_("carol")
    assert team.run("publish", "support/reply", "--version", "2", "--reason", "better")[0] == 0
    with RegistryClient(registry.url, registry.tokens["alice"]) as app:
        resolved, _ = app.resolve("support/reply")
        assert resolved is not None
        assert resolved.version.number == 2
    # A canary: v1 stays the main version, v2 serves a quarter of callers, chosen by key.
    code, out, err = team.run("publish", "support/reply", "--version", "1", "--canary", "2",
                              "--percent", "25", "--reason", "try v2 on some")  # fmt: skip
    assert code == 0, err
    assert "canary: v2 serves 25%" in out
    with RegistryClient(registry.url, registry.tokens["alice"]) as app:
        served = set()
        for user in range(40):
            resolved, _ = app.resolve("support/reply", key=f"user-{user}")
            assert resolved is not None
            served.add(resolved.version.number)
            again, _ = app.resolve("support/reply", key=f"user-{user}")
            assert again is not None
            assert again.version.number == resolved.version.number  # sticky per caller
        assert served == {1, 2}
    code, _, err = team.run("publish", "support/reply", "--version", "1", "--canary", "2",
                            "--percent", "150", "--reason", "too much")  # fmt: skip
    assert code == 2
    assert "1 to 99" in err
    # Rollback is publishing the earlier version again (which also ends the canary).
    assert team.run("publish", "support/reply", "--version", "v1", "--reason", "rollback")[0] == 0
    code, out, _ = team.run("labels", "support/reply")
    assert code == 0
    assert "production  v1" in out
    assert "rollback" in out

    import langfuse

    sdk = langfuse.Langfuse(
        public_key=f"app-{registry.url.rsplit(':', 1)[1]}",
        secret_key=registry.tokens["alice"],
        host=registry.url,
        tracing_enabled=False,
    )
    try:
        prompt = sdk.get_prompt("support/reply", type="chat", cache_ttl_seconds=0)
        assert prompt.version == 1
        compiled = prompt.compile(product="Acme", question="Where is my order?")
        assert compiled[0].get("content") == "You are a support agent for Acme."
    finally:
        sdk.shutdown()

    # No token in any file any person's app wrote.
    for who in ("alice", "bob", "carol"):
        token = registry.tokens[who].encode()
        for f in tmp_path.rglob("*"):
            if f.is_file() and "registry" not in f.name:
                assert token not in f.read_bytes(), f
