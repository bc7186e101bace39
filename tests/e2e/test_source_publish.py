"""Publishing a version bound to a data source: refused while the publisher's source
does not allow the prompt (the label stays where it was), accepted once it does; an
author whose registry role is below the source's is refused at commit. Real registry
on 127.0.0.1, real keychain, the CLI as people run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_cli_flow import People
from tests.server.conftest import RunningRegistry
from workbench.secrets.keyring_store import KeyringStore

PROMPT = """\
messages:
  - role: user
    content: "Plan {{ plan }}: {{ question }}"
variables:
  plan: {source: plans, field: plan, where: {id: customer_id}}
  customer_id: {type: integer}
  question: {}
"""


@pytest.mark.keychain
def test_publish_is_refused_outside_the_allow_list(
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
    (tmp_path / "plans.csv").write_text("id,plan\n1,gold\n")
    team = People(tmp_path, registry, monkeypatch, capsys)
    add = ("source", "add", "plans", "--kind", "csv", "--path", "plans.csv")

    # An author, below the source's role: refused at commit, saying the role.
    team.as_("alice")
    assert team.run(*add, "--allow-prompt", "support/", "--allow-role", "publisher")[0] == 0
    code, _, err = team.run("commit", "support/reply", "-f", "p.yaml", "-m", "first")
    assert code == 2 and "your role is author" in err

    # The publisher defines the source open to the prompt, commits and pushes.
    team.as_("carol")
    assert team.run(*add, "--allow-prompt", "support/reply", "--allow-role", "publisher")[0] == 0
    code, _, err = team.run("commit", "support/reply", "-f", "p.yaml", "-m", "first")
    assert code == 0, err
    assert team.run("sync")[0] == 0
    team.as_("bob")
    assert team.run("sync")[0] == 0
    assert team.run("review", "approve", "support/reply", "v1", "-m", "ok")[0] == 0

    # The source is closed to the prompt since: publish refused, nothing moved.
    team.as_("carol")
    assert team.run("source", "edit", "plans", "--deny-prompt", "support/reply",
                    "--allow-prompt", "sales/")[0] == 0  # fmt: skip
    code, _, err = team.run(
        "publish", "support/reply", "--version", "1", "--label", "production", "--reason", "go"
    )
    assert code == 2
    assert (
        "publish refused: prompt 'support/reply' is not on the allow-list of data source 'plans'"
        in err
    )
    assert "workbench source edit plans --allow-prompt support/reply" in err
    code, out, _ = team.run("labels", "support/reply", "--json")
    assert "production" not in out

    assert team.run("source", "edit", "plans", "--allow-prompt", "support/")[0] == 0
    code, out, err = team.run(
        "publish", "support/reply", "--version", "1", "--label", "production", "--reason", "go",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["name"] == "production"
    assert "production" in team.run("labels", "support/reply", "--json")[1]
