"""`workbench budget set|show`: caps kept in the settings (shared with the app, across
restarts), per provider too; a spent cap refuses the next run before it starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.providerserver.server import ProviderServer
from tests.unit.cli.test_cli_money_and_limits import env, server  # noqa: F401
from tests.unit.cli.test_compare_cli import run
from workbench.settings import load_settings


def test_budget_set_show_and_a_spent_provider_cap(
    env: Path,  # noqa: F811
    server: ProviderServer,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.script("gpt-4o-mini", input_tokens=50_000, output_tokens=10)
    run(capsys, "commit", "p", "-f", "p.yaml", "-m", "1")
    run(capsys, "provider", "add", "oa", "--family", "openai", "--base-url",
        server.base_url("openai"), "--key-env", "OA_KEY")  # fmt: skip
    code, out, _ = run(capsys, "budget", "show")
    assert code == 0 and "no day or month caps" in out

    code, out, _ = run(capsys, "budget", "set", "--per-day", "5", "--per-run", "1")
    assert code == 0 and "per run: $1.00" in out and "the daily budget" in out
    code, out, _ = run(capsys, "budget", "set", "--provider", "oa", "--per-day", "0.01")
    assert "the daily budget of oa" in out
    budgets = load_settings().budgets  # kept in the settings: the app reads the same
    assert budgets.per_day_usd == 5 and budgets.per_provider["oa"].per_day_usd == 0.01

    # 3 calls of ~$0.0075 each, one at a time (the server reports far more tokens than
    # the estimate, so what counts is what was spent): the second starts under the cap
    # ($0.0075 spent), the third would start past it and is stopped, never called.
    code, out, err = run(capsys, "compare", "p", "--models", "oa:gpt-4o-mini", "--cases",
                         "cases.csv", "--json", "--concurrency", "1")  # fmt: skip
    cells = json.loads(out)["run"]["cells"]
    made = [c for c in cells if c["error_kind"] is None]
    stopped = [c for c in cells if c["error_kind"] == "budget"]
    assert len(made) == 2 and len(stopped) == 1, err
    assert "the daily budget of oa ($0.0100) reached; call not made" in stopped[0]["error"]
    assert len(server.requests_for("gpt-4o-mini")) == 2

    code, out, _ = run(capsys, "budget", "show", "--json")
    shown = {b["budget"]: b for b in json.loads(out)["budgets"]}
    spent = sum(c["cost_usd"] for c in made)
    assert shown["the daily budget of oa"]["spent_usd"] == pytest.approx(spent)
    assert shown["the daily budget of oa"]["warning"] is True  # over warn_at (80%)

    # Spent past its cap: the next run of oa is refused before it starts.
    server.script("gpt-4o-mini", input_tokens=5_000, output_tokens=10)
    run(capsys, "budget", "set", "--provider", "oa", "--per-day", "0.001")
    code, _, err = run(capsys, "compare", "p", "--models", "oa:gpt-4o-mini", "--cases",
                       "cases.csv")  # fmt: skip
    assert code == 2 and "the daily budget of oa is $0.0010" in err
    assert len(server.requests_for("gpt-4o-mini")) == 2

    code, out, _ = run(capsys, "budget", "set", "--provider", "oa", "--per-day", "0")
    assert "of oa" not in out  # cleared
    code, _, err = run(capsys, "budget", "set", "--provider", "oa", "--per-run", "3")
    assert code == 2 and "--per-run is for every run" in err
    code, _, err = run(capsys, "budget", "set", "--per-day", "lots")
    assert code == 2 and "'lots' is not an amount" in err
