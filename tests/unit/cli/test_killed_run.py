"""A run whose process is killed (SIGKILL) is marked interrupted on the next open, and
`runs list` and `runs show` agree on its cells and cost. A real subprocess, a real
provider server on 127.0.0.1 and a real vault file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.providerserver.server import ProviderServer
from tests.unit.cli.test_cli_money_and_limits import env, server  # noqa: F401
from tests.unit.cli.test_compare_cli import run
from workbench.vault.run_log import owner_alive, process_owner


def test_owner_alive_tells_a_live_process_from_a_gone_one() -> None:
    assert owner_alive(process_owner()) is True
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert owner_alive(process_owner(child.pid)) is False
    assert owner_alive(None) is False  # a run from before owners were stored
    assert owner_alive("some-other-host:1:1") is None  # cannot tell: left alone


def test_a_killed_compare_is_marked_interrupted_on_next_open(
    env: Path,  # noqa: F811
    server: ProviderServer,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.script("gpt-4o-mini", input_tokens=50, output_tokens=12)  # answers at once
    server.script("test-model", text="word " * 2000, chunks=2000, chunk_delay=0.05)  # 100 s
    run(capsys, "commit", "p", "-f", "p.yaml", "-m", "1")
    run(capsys, "provider", "add", "oa", "--family", "openai", "--base-url",
        server.base_url("openai"), "--key-env", "OA_KEY")  # fmt: skip
    child = subprocess.Popen(
        [sys.executable, "-m", "workbench", "compare", "p", "--models",
         "oa:gpt-4o-mini,oa:test-model", "--cases", "cases.csv", "--concurrency", "6"],
        env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        # Wait (bounded) until the run is in the vault with the fast model's cells.
        give_up = time.monotonic() + 60
        listed: list[dict[str, object]] = []
        while time.monotonic() < give_up and child.poll() is None:
            _, out, _ = run(capsys, "runs", "list", "--json")
            listed = json.loads(out)
            if listed and int(listed[0]["cells"]) >= 3:  # type: ignore[call-overload]
                break
            time.sleep(0.05)
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert listed and listed[0]["status"] == "running"
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stderr:
            child.stderr.close()

    _, out, _ = run(capsys, "runs", "list", "--json")  # a new open of the vault
    (item,) = json.loads(out)
    assert item["status"] == "interrupted"
    assert item["cells"] == 3 and item["planned_cells"] == 6
    assert item["cost_usd"] is not None and item["cost_usd"] > 0  # the 3 priced cells
    _, table, _ = run(capsys, "runs", "list")
    row = next(line for line in table.splitlines() if line.startswith(item["id"][:8]))
    assert "interrupted" in row and "3 of 6" in row
    _, shown, _ = run(capsys, "runs", "show", item["id"][:8])
    head = shown.splitlines()[0]
    assert "interrupted  3 of 6 cells (partial)" in head
    assert row.rstrip().endswith(head.split("(partial)  ", 1)[1])  # the same cost
