"""`runs list`, `runs show` and `costs` follow the one money rule and agree with each other;
cached replays are not spending."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.providerserver.server import ProviderServer
from tests.unit.cli.test_cli_money_and_limits import env, server  # noqa: F401
from tests.unit.cli.test_compare_cli import run


def test_runs_list_show_and_costs_agree_and_skip_cached_replays(
    env: Path,  # noqa: F811
    server: ProviderServer,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.script("gpt-4o-mini", input_tokens=50, output_tokens=12)
    run(capsys, "commit", "p", "-f", "p.yaml", "-m", "1")
    run(capsys, "provider", "add", "oa", "--family", "openai", "--base-url",
        server.base_url("openai"), "--key-env", "OA_KEY")  # fmt: skip
    code, out, err = run(capsys, "compare", "p", "--models", "oa:test-model,oa:gpt-4o-mini",
                         "--cases", "cases.csv", "--cache")  # fmt: skip
    assert code == 0, err
    head = out.splitlines()[0]
    money = head.split("cells  ", 1)[1]
    assert money.startswith("> $0") or money.startswith("≥ $")
    assert money.endswith(", 3 calls unpriced")
    run_id = head.split()[1]

    _, listed, _ = run(capsys, "runs", "list")
    row = next(line for line in listed.splitlines() if line.startswith(run_id[:8]))
    assert row.rstrip().endswith(money)  # the same words as the run's own page
    assert " 6 " in row  # every planned cell stored
    _, raw, _ = run(capsys, "runs", "list", "--json")
    item = next(r for r in json.loads(raw) if r["id"] == run_id)
    assert item["cost_usd"] is None  # never a plain number hiding unpriced calls
    assert item["unpriced_calls"] == 3 and item["priced_usd"] > 0
    assert item["cells"] == item["planned_cells"] == 6

    _, before, _ = run(capsys, "costs", "--json")
    # The same run again: every answer comes from the cache, no model is called.
    code, out, err = run(capsys, "compare", "p", "--models", "oa:test-model,oa:gpt-4o-mini",
                         "--cases", "cases.csv", "--cache")  # fmt: skip
    assert code == 0, err
    replay = out.splitlines()[0]
    assert replay.endswith("6 cells  $0"), replay
    _, after, _ = run(capsys, "costs", "--json")
    assert json.loads(after)["total_usd"] == json.loads(before)["total_usd"]
    assert json.loads(after)["unpriced_calls"] == json.loads(before)["unpriced_calls"]
    _, listed, _ = run(capsys, "runs", "list")
    row = next(line for line in listed.splitlines() if line.startswith(replay.split()[1][:8]))
    assert row.rstrip().endswith("$0")
