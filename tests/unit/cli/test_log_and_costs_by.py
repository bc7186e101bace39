"""`workbench log` (the run log) and `workbench costs --by` (cumulative spending) read
what every compare stored; cached replays are not spending; variables are redacted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.providerserver.server import ProviderServer
from tests.unit.cli.test_cli_money_and_limits import env, server  # noqa: F401
from tests.unit.cli.test_compare_cli import run
from workbench.cli.spend_cmds import COST_GROUP_CHOICES
from workbench.vault.spending import COST_GROUPS

KEY_SHAPED = "sk-proj-" + "abcdefghijklmnopqrstuvwxyz0123"  # split: no key-shaped literal


def test_the_parser_offers_every_grouping_the_vault_has() -> None:
    assert COST_GROUP_CHOICES == COST_GROUPS


def test_log_and_costs_by_show_what_was_called(
    env: Path,  # noqa: F811
    server: ProviderServer,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.script("gpt-4o-mini", input_tokens=50, output_tokens=12)
    (env / "cases.csv").write_text(f"name,question\na,one?\nb,{KEY_SHAPED}\n")
    run(capsys, "commit", "p", "-f", "p.yaml", "-m", "1")
    run(capsys, "provider", "add", "oa", "--family", "openai", "--base-url",
        server.base_url("openai"), "--key-env", "OA_KEY")  # fmt: skip
    code, _, err = run(capsys, "compare", "p", "--models", "oa:gpt-4o-mini,oa:test-model",
                       "--cases", "cases.csv", "--cache")  # fmt: skip
    assert code == 0, err
    code, _, err = run(capsys, "compare", "p", "--models", "oa:gpt-4o-mini", "--cases",
                       "cases.csv", "--fail-model", "oa:gpt-4o-mini")  # fmt: skip
    assert code != 0  # every call failed on purpose

    code, out, _ = run(capsys, "log")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["WHEN", "PROMPT", "VERSION", "MODEL"]
    body = lines[2:-1]
    assert len(body) == 6 and lines[-1] == "6 calls, newest first"
    assert all("error: " in line for line in body[:2])  # the failed run is the newest
    code, out, _ = run(capsys, "log", "--errors", "--jsonl")
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 2 and {r["ok"] for r in records} == {False}
    assert all(r["error_kind"] and r["retries"] is not None for r in records)
    code, out, _ = run(capsys, "log", "--model", "oa:test-model", "--jsonl")
    records = [json.loads(line) for line in out.splitlines()]
    assert {r["model"] for r in records} == {"test-model"} and len(records) == 2
    assert {r["case"] for r in records} == {"a", "b"}
    # A key-shaped variable value is redacted (the echoing test server's answer is the
    # model's output, stored as answered: only known secrets are taken out of outputs).
    questions = [r["variables"]["question"] for r in records]
    assert "one?" in questions and not any(KEY_SHAPED in q for q in questions)
    assert run(capsys, "log", "--prompt", "other")[1] == "no model call matches these filters\n"

    code, before, _ = run(capsys, "costs", "--by", "model", "--json")
    groups = {g["model"]: g for g in json.loads(before)["groups"]}
    mini = groups["oa:gpt-4o-mini"]
    assert mini["calls"] == 4 and mini["errors"] == 2  # 2 answered, 2 failed on purpose
    assert mini["input_tokens"] == 100 and mini["cost_usd"] and mini["cost_usd"] > 0
    assert mini["cost_per_1k_calls_usd"] == pytest.approx(mini["cost_usd"] * 1000 / 2)
    unpriced = groups["oa:test-model"]
    assert unpriced["cost_usd"] is None and unpriced["unpriced_calls"] == 2
    code, text, _ = run(capsys, "costs", "--by", "model")
    assert "unknown" in text and text.rstrip().endswith("2 calls unpriced")

    # The first run again from the cache: no model called, so no spending added.
    code, _, err = run(capsys, "compare", "p", "--models", "oa:gpt-4o-mini,oa:test-model",
                       "--cases", "cases.csv", "--cache")  # fmt: skip
    assert code == 0, err
    assert run(capsys, "costs", "--by", "model", "--json")[1] == before
    code, out, _ = run(capsys, "log", "--limit", "4")
    assert sum("cached" in line for line in out.splitlines()) == 4  # the log still shows them

    code, out, _ = run(capsys, "costs", "--by", "prompt", "--since", "2000-01-01", "--json")
    assert [g["prompt"] for g in json.loads(out)["groups"]] == ["p"]
    # By the author of the version the money went to, and by ISO week: the same total.
    code, out, _ = run(capsys, "costs", "--by", "author", "--json")
    by_author = json.loads(out)["groups"]
    assert len(by_author) == 1 and by_author[0]["calls"] == 6
    assert by_author[0]["cost_usd"] is None and by_author[0]["priced_usd"] == mini["cost_usd"]
    code, out, _ = run(capsys, "costs", "--by", "week", "--json")
    [week] = json.loads(out)["groups"]
    assert week["week"].startswith("20") and "-W" in week["week"]
    assert (week["calls"], week["priced_usd"]) == (6, by_author[0]["priced_usd"])
    code, out, _ = run(capsys, "costs", "--by", "day", "--since", "2999-01-01")
    assert out.startswith("no calls reached a model since 2999-01-01")
    code, out, _ = run(capsys, "costs", "--by", "model", "--csv", "--chart", str(env / "c.png"))
    assert code == 0 and out.splitlines()[0].startswith("model,calls,errors,input_tokens")
    assert (env / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = run(capsys, "costs", "--by", "model", "--chart", str(env / "c.txt"))
    assert code == 2 and ".png, .svg or .pdf" in err
    code, _, err = run(capsys, "costs", "--since", "last week")
    assert code == 2 and "is not a date" in err


def test_runs_prune_keeps_the_log_within_its_retention(
    env: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select, update

    from workbench.settings import Settings, save_settings
    from workbench.vault import Vault
    from workbench.vault.schema import RunRow

    run(capsys, "commit", "p", "-f", "p.yaml", "-m", "1")
    for _ in range(2):
        assert run(capsys, "compare", "p", "--models", "echo:echo", "--cases", "cases.csv")[0] == 0
    code, _, err = run(capsys, "runs", "prune")
    assert code == 2 and "--older-than DAYS" in err
    vault_path = env / "data" / "vault.sqlite3"
    with Vault.open(vault_path) as vault, vault.writing() as s:  # one run made long ago
        oldest = s.scalars(select(RunRow.id).order_by(RunRow.started_at)).first()
        s.execute(
            update(RunRow).where(RunRow.id == oldest)
            .values(started_at=datetime.now(UTC) - timedelta(days=40))
        )  # fmt: skip
    save_settings(Settings(log_retention_days=30))
    code, out, _ = run(capsys, "runs", "prune")
    assert code == 0 and out.startswith("deleted 1 run (3 calls) started more than 30 days ago")
    assert len(run(capsys, "log", "--jsonl")[1].splitlines()) == 3  # the newer run's calls
    with Vault.open(vault_path) as vault:
        assert vault.audit_events()[-1].action == "runs.prune"
    assert run(capsys, "runs", "prune", "--older-than", "1")[1].startswith("deleted 0 runs")
