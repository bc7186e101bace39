"""Issue 12 through the ``workbench`` CLI against a real registry: publishing a
Jinja-only version warns that Langfuse apps cannot read it (item 4); ``labels`` shows
a running canary and a readable history (item 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_cli_flow import People
from tests.server.conftest import RunningRegistry
from workbench.secrets.keyring_store import KeyringStore

PLAIN = """\
messages:
  - role: user
    content: "Hello {{ name }}"
"""
JINJA = """\
messages:
  - role: user
    content: "Hello {{ name | title }}{% if name == 'ada' %}, welcome back{% endif %}"
"""


@pytest.mark.keychain
def test_publish_warns_and_labels_show_the_canary(
    tmp_path: Path,
    registry: RunningRegistry,
    secret_service: KeyringStore,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("WORKBENCH_REGISTRY_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    team = People(tmp_path, registry, monkeypatch, capsys)

    team.as_("alice")
    (tmp_path / "p.yaml").write_text(PLAIN)
    assert team.run("commit", "greet", "-f", "p.yaml", "-m", "plain")[0] == 0
    (tmp_path / "p.yaml").write_text(JINJA)
    code, _, err = team.run("commit", "greet", "-f", "p.yaml", "-m", "jinja")
    assert code == 0, err
    assert team.run("sync")[0] == 0
    team.as_("bob")
    team.run("sync")
    for v in ("v1", "v2"):
        assert team.run("review", "approve", "greet", v, "-m", "ok")[0] == 0

    team.as_("carol")
    code, out, err = team.run("publish", "greet", "--version", "1", "--reason", "launch")
    assert code == 0, err
    assert "Langfuse" not in err  # a plain template: no warning
    code, out, err = team.run(
        "publish", "greet", "--version", "2", "--label", "staging", "--reason", "try", "--json"
    )
    assert code == 0, err
    assert "warning: greet v2 is not Langfuse-compatible" in err
    assert "409" in err and "{{ name }}" in err
    assert json.loads(out)["warnings"] == [err.strip()]

    code, out, err = team.run(
        "publish", "greet", "--version", "1", "--canary", "2", "--percent", "25",
        "--reason", "some callers",
    )  # fmt: skip
    assert code == 0, err
    assert "warning: greet v2 is not Langfuse-compatible" in err  # the canary is checked too

    code, out, err = team.run("labels", "greet")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["LABEL", "VERSION", "CANARY", "BY", "AT"]
    production = next(line for line in lines if line.startswith("production"))
    assert "v2 for 25% of callers" in production
    staging = next(line for line in lines if line.startswith("staging"))
    assert staging.split()[1:3] == ["v2", "-"]
    assert "history:" in out
    history = out.split("history:", 1)[1]
    assert "production → v1" in history and "(canary 25%): some callers" in history
    assert "staging → v2: try" in history
    assert "{'" not in out and "UUID(" not in out  # readable, not raw dicts
