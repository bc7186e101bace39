"""Quitting the real app, 20 times in a row: with a run in progress or just finished,
every quit exits 0 and writes no "Fatal Python error" and no traceback.

Each round is ``python -m workbench`` in its own process (offscreen), on a vault with a
prompt and test cases, its settings naming the local provider server; the app's test
hooks press Run once the window is up and quit the way File → Quit does (see
``workbench.ui.app``). ``none_dealloc`` at quit came from PySide6 6.12.0 dropping
references (``tests/gui/test_qt_binding.py``); this proves the whole quit path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gui.conftest import two_versions
from tests.providerserver.server import DEFAULT_KEY, ProviderServer
from workbench.core.runs import TestCase
from workbench.ui.app import TEST_QUIT_ENV, TEST_RUN_ENV
from workbench.vault import Vault
from workbench.vault.runs import RunStore

pytestmark = [pytest.mark.gui, pytest.mark.slow]

ROUNDS = 20
KEY_ENV = "WORKBENCH_QUIT_TEST_KEY"
IN_PROGRESS_MS = "700"
"""Quit this long after Run: the slow model (30 s to its first token) is still going."""


@pytest.fixture
def app_home(tmp_path: Path, server: ProviderServer) -> dict[str, str]:
    data = tmp_path / "data"
    data.mkdir()
    vault_path = tmp_path / "vault.sqlite3"
    with Vault.open(vault_path, create=True, actor="ada") as vault:
        two_versions(vault)
        vault.set_test_cases(
            "support/reply",
            [TestCase(name=f"c{i}", values={"question": f"question {i}"}) for i in range(3)],
        )
    settings = {
        "providers": [
            {
                "name": "local",
                "family": "openai",
                "base_url": server.base_url("openai"),
                "key_env": KEY_ENV,
                "models": ["test-model", "test-model-2"],
            }
        ],
        "default_models": ["local:test-model", "local:test-model-2"],
        "sync_interval_s": 0,
    }
    (data / "settings.json").write_text(json.dumps(settings), "utf-8")
    return {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "WORKBENCH_DATA_DIR": str(data),
        "WORKBENCH_VAULT": str(vault_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # the window's QSettings
        KEY_ENV: DEFAULT_KEY,
        TEST_RUN_ENV: "support/reply",
    }


def test_twenty_quits_in_a_row_are_clean(
    app_home: dict[str, str], server: ProviderServer, tmp_path: Path
) -> None:
    server.script("test-model", ttft=0.0, chunks=2)
    results = []
    for i in range(ROUNDS):
        in_progress = i % 2 == 0
        server.script("test-model-2", ttft=30.0 if in_progress else 0.0, chunks=2)
        env = {**app_home, TEST_QUIT_ENV: IN_PROGRESS_MS if in_progress else "finished"}
        proc = subprocess.run(
            [sys.executable, "-m", "workbench"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        results.append((i, in_progress, proc.returncode, proc.stderr))
    bad = [
        (i, in_progress, code, err[-2000:])
        for i, in_progress, code, err in results
        if code != 0 or "Fatal Python error" in err or "Traceback" in err
    ]
    assert not bad, bad
    # Each round really ran: every run is in the vault, the unfinished ones cancelled.
    with Vault.open(Path(app_home["WORKBENCH_VAULT"])) as vault:
        runs = RunStore(vault).list_runs("support/reply", limit=100)
    statuses = sorted(r.status for r in runs)
    assert statuses == ["cancelled"] * (ROUNDS // 2) + ["finished"] * (ROUNDS // 2)
