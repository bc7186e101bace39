"""``workbench publish --canary ... --max-*``, ``workbench prod`` and ``workbench trace``
against a real registry under uvicorn, fed by the official OpenTelemetry SDK; the
token comes from WORKBENCH_REGISTRY_TOKEN, as in CI."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.conftest import RunningRegistry, running_registry
from tests.server.test_registry_telemetry import ALICE, BOB, PROMPT, Sender
from workbench.cli.main import main
from workbench.core.models import Message, ModelDefaults, PromptContent, PromptVersion
from workbench.registry.client import RegistryClient
from workbench.registry.schemas import ReviewIn, VersionPush
from workbench.registry.server.config import RegistrySettings
from workbench.registry.server.resolve import canary_pick
from workbench.settings import load_settings, save_settings


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    settings = RegistrySettings(db_url=f"sqlite:///{tmp_path / 'registry.sqlite3'}")
    with running_registry(settings) as reg:
        reg.tokens["shop"] = reg.service.add_user("shop", "app")
        yield reg


def _version(text: str) -> PromptVersion:
    content = PromptContent(
        messages=(Message(role="user", template=text),),
        model=ModelDefaults(model="gpt-4o-mini", temperature=0.2, max_tokens=300),
    )
    return PromptVersion(prompt=PROMPT, content=content, content_hash=content.content_hash())


def _push_approved(reg: RunningRegistry, text: str) -> PromptVersion:
    v = _version(text)
    body = VersionPush(
        id=v.id, prompt=PROMPT, content=v.content, content_hash=v.content_hash,
        created_at=v.created_at,
    )  # fmt: skip
    pushed = reg.service.push_version(ALICE, body).version
    reg.service.review(BOB, pushed.id, ReviewIn(decision="approve", content_hash=v.content_hash))
    return pushed


class Cli:
    def __init__(
        self, tmp_path: Path, reg: RunningRegistry, mp: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:  # fmt: skip
        mp.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "carol"))
        mp.delenv("WORKBENCH_VAULT", raising=False)
        mp.setenv("WORKBENCH_REGISTRY_TOKEN", reg.tokens["carol"])
        settings = load_settings()
        settings.registry_url, settings.registry_user = reg.url, "carol"
        save_settings(settings)
        self.capsys = capsys

    def run(self, *argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        return code, out, err


def test_guarded_canary_halts_and_the_cli_says_so(
    tmp_path: Path,
    registry: RunningRegistry,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _push_approved(registry, "Hello {{ name }}")
    _push_approved(registry, "Hi {{ name }}!")
    cli = Cli(tmp_path, registry, monkeypatch, capsys)
    code, _, err = cli.run("publish", PROMPT, "--version", "1", "--reason", "launch")
    assert code == 0, err

    code, _, err = cli.run(
        "publish", PROMPT, "--version", "1", "--max-error-rate", "0.1", "--reason", "x"
    )
    assert code == 2 and "need a canary" in err
    code, _, err = cli.run(
        "publish", PROMPT, "--version", "1", "--canary", "2", "--max-error-rate", "5",
        "--reason", "x",
    )  # fmt: skip
    assert code == 2 and "max_error_rate" in err and "fractions" in err

    code, out, err = cli.run(
        "publish", PROMPT, "--version", "1", "--canary", "2", "--percent", "40",
        "--max-error-rate", "0.1", "--min-calls", "10", "--reason", "try v2",
    )  # fmt: skip
    assert code == 0, err
    assert "guards: error rate <= 10%; judged from 10 canary calls" in out
    state = registry.service.label(PROMPT, "production")
    assert state.target.canary is not None and state.target.canary.guards is not None
    assert state.target.canary.guards.max_error_rate == 0.1

    keys = [f"u{i}" for i in range(60)]
    canary_keys = [k for k in keys if canary_pick(PROMPT, "production", k, 40)]
    with RegistryClient(registry.url, registry.tokens["shop"]) as app:
        for k in keys:
            app.resolve(PROMPT, key=k)
    sender = Sender(registry.url, registry.tokens["shop"])
    traces = {}
    try:
        for k in keys:
            canary = k in canary_keys
            traces[k] = sender.call(
                {"workbench.caller_key": k, "workbench.cost_usd": 0.002},
                error=canary and int(k[1:]) % 2 == 0,
            )
    finally:
        sender.close()

    code, out, err = cli.run("labels", PROMPT)
    assert code == 0, err
    assert "the canary v2 of support/reply@production was halted by the registry" in out
    assert "error rate" in out

    code, out, err = cli.run("prod", PROMPT)
    assert code == 0, err
    assert re.search(r"production v1: \d+ calls, p95 \d+ ms, \$[\d.]+ \(≈ \$[\d.]+/day\)", out), out
    assert re.search(r"production v2: \d+ calls, [\d.]+% errors, p95 \d+ ms", out), out
    code, out, _ = cli.run("prod", PROMPT, "--since", "2h", "--json")
    rows = {r["version"]: r for r in json.loads(out)["rows"]}
    assert rows[1]["calls"] + rows[2]["calls"] == len(keys)
    assert rows[1]["by_app"][0]["app"] == "shop"

    first_canary = canary_keys[0]
    code, out, err = cli.run("trace", "--trace-id", traces[first_canary])
    assert code == 0, err
    assert "support/reply v2 via production" in out
    assert "model: gpt-4o-mini-2024-07-18 by openai" in out
    assert "model=gpt-4o-mini" in out and "temperature=0.2" in out
    assert "cost $0.002" in out
    code, out, err = cli.run("trace", "--app", "shop", "--key", first_canary, "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["resolution"]["version"] == 2 and answer["resolution"]["served"] == "canary"
    assert answer["parameters"]["max_tokens"] == 300

    code, _, err = cli.run("trace")
    assert code == 2 and "--trace-id" in err
    code, _, err = cli.run("trace", "--trace-id", "nothex")
    assert code == 2 and "32 hex" in err
    code, _, err = cli.run("trace", "--trace-id", "0" * 31 + "1")
    assert code == 2 and "no production call" in err
    code, _, err = cli.run("prod", PROMPT, "--since", "yesterday-ish")
    assert code == 2 and "--since" in err
    code, _, err = cli.run("prod", "no/such")
    assert code == 2 and "no prompt" in err
