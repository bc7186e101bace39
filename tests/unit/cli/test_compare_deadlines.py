"""`compare --call-deadline/--deadline/--max-answer-chars`: documented and honoured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.providerserver.server import ProviderServer
from tests.unit.cli.test_cli_money_and_limits import env, server  # noqa: F401
from tests.unit.cli.test_compare_cli import run


def test_compare_help_documents_the_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run(capsys, "compare", "--help")
    out = " ".join(capsys.readouterr().out.split())
    assert "--call-deadline SECONDS" in out and "(default: 600)" in out
    assert "--deadline SECONDS" in out
    assert "--max-answer-chars N" in out


def test_a_trickling_server_cannot_keep_compare_running(
    env: Path,  # noqa: F811
    server: ProviderServer,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.script("test-model", text="word " * 2000, chunks=2000, chunk_delay=0.05)  # 100 s
    run(capsys, "commit", "p", "-f", "p.yaml", "-m", "1")
    run(capsys, "provider", "add", "oa", "--family", "openai", "--base-url",
        server.base_url("openai"), "--key-env", "OA_KEY")  # fmt: skip
    _, out, err = run(capsys, "compare", "p", "--models", "oa:test-model", "--cases",
                      "cases.csv", "--call-deadline", "0.3", "--json")  # fmt: skip
    cells = json.loads(out)["run"]["cells"]
    assert len(cells) == 3, err
    assert {c["error_kind"] for c in cells} == {"deadline"}
