"""The CLI tells the effective concurrency and never shows an unpriced total as $0."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.providerserver.server import DEFAULT_KEY, ProviderServer
from tests.unit.cli.test_compare_cli import PROMPT, run


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("WORKBENCH_VAULT", raising=False)
    monkeypatch.setenv("OA_KEY", DEFAULT_KEY)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.yaml").write_text(PROMPT)
    (tmp_path / "cases.csv").write_text("name,question\na,one?\nb,two?\nc,three?\n")
    return tmp_path


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    with ProviderServer() as s:
        yield s


def test_provider_add_help_tells_the_concurrency_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        run(capsys, "provider", "add", "--help")
    out = " ".join(capsys.readouterr().out.split())
    assert "--concurrency" in out
    assert "default: no limit of its own, the run's applies" in out


def test_compare_says_when_a_profile_caps_the_run(
    env: Path, server: ProviderServer, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "commit", "p", "-f", "p.yaml", "-m", "1")
    url = server.base_url("openai")
    run(capsys, "provider", "add", "free", "--family", "openai", "--base-url", url,
        "--key-env", "OA_KEY")  # fmt: skip
    run(capsys, "provider", "add", "slow", "--family", "openai", "--base-url", url,
        "--key-env", "OA_KEY", "--concurrency", "2")  # fmt: skip
    code, _, err = run(capsys, "compare", "p", "--models", "free:test-model",
                       "--cases", "cases.csv", "--concurrency", "16")  # fmt: skip
    assert code == 0, err
    assert "concurrency 16\n" in err
    code, _, err = run(capsys, "compare", "p", "--models", "slow:test-model",
                       "--cases", "cases.csv", "--concurrency", "16")  # fmt: skip
    assert code == 0, err
    assert "concurrency 16 requested, 2 allowed by profile slow" in err
    _, out, _ = run(capsys, "provider", "list")
    free_row = next(line for line in out.splitlines() if line.startswith("free"))
    assert free_row.split()[-1] == "run's"


def test_unpriced_totals_say_so_in_compare_runs_show_and_costs(
    env: Path, server: ProviderServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script("gpt-4o-mini", input_tokens=50, output_tokens=12)
    run(capsys, "commit", "p", "-f", "p.yaml", "-m", "1")
    run(capsys, "provider", "add", "oa", "--family", "openai", "--base-url",
        server.base_url("openai"), "--key-env", "OA_KEY")  # fmt: skip
    # "test-model" has no price: the total is unknown, not $0.0000.
    code, out, err = run(capsys, "compare", "p", "--models", "oa:test-model",
                         "--cases", "cases.csv")  # fmt: skip
    assert code == 0, err
    head = out.splitlines()[0]
    assert head.endswith("3 cells  unknown")
    run_id = head.split()[1]
    _, shown, _ = run(capsys, "runs", "show", run_id[:8])
    assert shown.splitlines()[0].endswith("3 cells  unknown")
    _, costs, _ = run(capsys, "costs")
    assert "spent in all unknown" in costs
    assert "$0.0000" not in costs
    assert "unpriced calls" in costs

    # Mixed: the priced part plus how many are not priced.
    code, out, err = run(capsys, "compare", "p", "--models", "oa:test-model,oa:gpt-4o-mini",
                         "--cases", "cases.csv")  # fmt: skip
    assert code == 0, err
    head = out.splitlines()[0]
    assert head.endswith(", 3 calls unpriced")
    assert "≥ $0," not in head  # gpt-4o-mini's 3 calls cost something
    _, shown, _ = run(capsys, "runs", "show", head.split()[1][:8])
    assert shown.splitlines()[0] == head
    _, costs, _ = run(capsys, "costs")
    assert "spent in all ≥ $0.0000441, 6 calls unpriced" in costs  # a real lower bound
