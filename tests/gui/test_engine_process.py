"""The app's way of running: the engine in a child process, streaming into the grid.

The child resolves the provider key itself (here from the profile's ``key_env``: no
keychain in tests), writes cells to the vault, and is gone when the run is.
"""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pytest

from tests.gui.conftest import engine_processes, two_versions
from tests.providerserver.server import DEFAULT_KEY, ProviderServer
from workbench.core.errors import UsageError, WorkbenchError
from workbench.core.runs import ModelRef, RunSpec, TestCase
from workbench.engine.runner import ECHO_PROFILE
from workbench.providers.profiles import ProviderProfile
from workbench.ui.grid import CELL_ROLE
from workbench.ui.worker import EngineProcess
from workbench.vault import Vault
from workbench.vault.runs import RunStore

pytestmark = pytest.mark.gui

KEY_ENV = "WORKBENCH_GUI_TEST_KEY"
CASES = [
    TestCase(name="refund", values={"question": "Where is my refund?"}),
    TestCase(name="login", values={"question": "I cannot log in to my account"}),
    TestCase(name="hours", values={"question": "When are you open?"}),
]


@pytest.fixture
def env_profiles(
    server: ProviderServer, monkeypatch: pytest.MonkeyPatch
) -> dict[str, ProviderProfile]:
    """Profiles whose key the child finds in its environment, as a CI pipeline would."""
    monkeypatch.setenv(KEY_ENV, DEFAULT_KEY)
    local = ProviderProfile(
        name="local",
        family="openai",
        base_url=server.base_url("openai"),
        key_env=KEY_ENV,
        models=("test-model", "test-model-2"),
    )
    return {"echo": ECHO_PROFILE, "local": local}


@pytest.fixture
def proc_window(window, vault: Vault, data_dir: Path, env_profiles):  # type: ignore[no-untyped-def]
    window.controller.use_process(EngineProcess(vault.path, lambda: env_profiles, actor="ada"))
    two_versions(vault)
    vault.set_test_cases("support/reply", CASES)
    window.browser.reload()
    window.browser.select("support/reply")
    return window


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_process_run_fills_the_grid_and_leaves_no_process(
    qtbot, proc_window, vault: Vault, server: ProviderServer
) -> None:  # type: ignore[no-untyped-def]
    server.script(
        "test-model", ttft=0.02, chunks=3, chunk_delay=0.05, input_tokens=11, output_tokens=7
    )
    server.script("test-model-2", ttft=0.01, chunks=2)
    compare = proc_window.compare
    controller = proc_window.controller
    with qtbot.waitSignal(controller.started, timeout=5_000):
        compare.start_run()
    pid = controller.child_pid()
    assert pid is not None and pid != os.getpid()
    qtbot.waitUntil(lambda: pid in engine_processes(), timeout=5_000)  # once it has exec'd
    with qtbot.waitSignal(compare.run_finished, timeout=20_000) as done:
        pass
    run = done.args[0]
    assert run.status == "finished" and len(run.cells) == 12
    assert run.spec.cases == tuple(CASES)
    assert not controller.running and not _alive(pid)

    grid = compare.grid_model
    v2 = vault.history("support/reply")[-1]
    col = next(
        i
        for i, c in enumerate(grid.columns)
        if c.version_id == v2.id and c.model.model == "test-model"
    )
    cell = grid.index(1, col).data(CELL_ROLE)
    assert cell.ok and cell.output.endswith("I cannot log in to my account")
    assert (cell.input_tokens, cell.output_tokens) == (11, 7)
    assert cell.ttft_ms is not None and cell.latency_ms is not None
    assert cell.latency_ms >= cell.ttft_ms and cell.finish_reason == "stop"
    text = grid.index(1, col).data()
    assert "TTFT" in text and "11→7 tok" in text
    assert compare.progress.value() == 12 and "12 of 12 cells" in compare.status.text()
    # The child wrote the run itself, and used the key it found in its environment.
    stored = RunStore(vault).load(run.id)
    assert stored.status == "finished" and len(stored.cells) == 12
    assert {c.output for c in stored.cells} == {c.output for c in run.cells}
    auth = {r.headers.get("authorization") for r in server.requests}
    assert auth == {f"Bearer {DEFAULT_KEY}"}


def test_process_cancel_keeps_finished_cells(
    qtbot, proc_window, vault: Vault, server: ProviderServer
) -> None:  # type: ignore[no-untyped-def]
    server.script("test-model", ttft=0.0, chunks=1)
    server.script("test-model-2", ttft=30.0, chunks=1)  # would take 30 s: cancelled first
    compare = proc_window.compare
    compare.start_run()
    pid = proc_window.controller.child_pid()
    assert pid is not None
    qtbot.waitUntil(lambda: len(compare.grid_model.cells) >= 6, timeout=15_000)
    with qtbot.waitSignal(compare.run_finished, timeout=10_000) as done:
        compare.cancel_button.click()
    run = done.args[0]
    assert run.status == "cancelled"
    assert all(c.key.model.model == "test-model" for c in run.cells)
    stored = RunStore(vault).load(run.id)
    assert stored.status == "cancelled" and len(stored.cells) == len(run.cells) >= 6
    assert compare.status.text().startswith("Cancelled")
    assert not _alive(pid)


def test_closing_the_window_mid_run_stops_the_engine_process(
    qtbot, proc_window, vault: Vault, server: ProviderServer
) -> None:  # type: ignore[no-untyped-def]
    server.script("test-model", ttft=0.0, chunks=1)
    server.script("test-model-2", ttft=30.0, chunks=1)
    proc_window.compare.start_run()
    pid = proc_window.controller.child_pid()
    assert pid is not None
    qtbot.waitUntil(lambda: len(proc_window.compare.grid_model.cells) >= 6, timeout=15_000)
    proc_window.close()
    assert not proc_window.controller.running and not _alive(pid)
    runs = RunStore(vault).list_runs("support/reply")
    assert runs[0].status == "cancelled"
    assert len(RunStore(vault).load(uuid.UUID(runs[0].id)).cells) >= 6


def test_an_engine_error_comes_back_with_its_hint(qtbot, proc_window, vault: Vault) -> None:  # type: ignore[no-untyped-def]
    controller = proc_window.controller
    version = vault.history("support/reply")[0]
    spec = RunSpec(
        prompt="support/reply",
        version_ids=(version.id,),
        models=(ModelRef(profile="nowhere", model="m"),),
    )
    with qtbot.waitSignal(controller.failed, timeout=20_000) as failed:
        controller.start(spec)
    exc = failed.args[0]
    assert isinstance(exc, UsageError) and "'nowhere'" in exc.message
    assert "workbench provider add" in exc.hint
    assert not controller.running


def test_an_engine_that_cannot_start_is_reported(qtbot, window, vault: Vault, tmp_path) -> None:  # type: ignore[no-untyped-def]
    controller = window.controller
    missing = str(tmp_path / "no-such-python")
    controller.use_process(EngineProcess(vault.path, dict, command=(missing, "-m", "x")))
    two_versions(vault)
    spec = RunSpec(
        prompt="support/reply",
        version_ids=(vault.history("support/reply")[0].id,),
        models=(ModelRef(profile="echo", model="echo"),),
    )
    with qtbot.waitSignal(controller.failed, timeout=10_000) as failed:
        controller.start(spec)
    exc = failed.args[0]
    assert isinstance(exc, WorkbenchError) and "could not start" in exc.message
    assert exc.hint and not controller.running


def test_an_engine_process_that_dies_mid_run_is_reported(
    qtbot, proc_window, vault: Vault, server: ProviderServer
) -> None:  # type: ignore[no-untyped-def]
    server.script("test-model", ttft=0.0, chunks=1)
    server.script("test-model-2", ttft=30.0, chunks=1)
    compare = proc_window.compare
    controller = proc_window.controller
    compare.start_run()
    store = RunStore(vault)

    def stored_cells() -> int:
        runs = store.list_runs("support/reply")
        return len(store.load(uuid.UUID(runs[0].id)).cells) if runs else 0

    # The engine writes cells in batches (every 0.25 s): wait until they are on disk.
    qtbot.waitUntil(lambda: stored_cells() >= 6, timeout=15_000)
    pid = controller.child_pid()
    assert pid is not None
    with qtbot.waitSignal(controller.failed, timeout=10_000) as failed:
        os.kill(pid, signal.SIGKILL)
    exc = failed.args[0]
    assert isinstance(exc, WorkbenchError) and "engine process crashed" in exc.message
    assert "kept in the vault" in exc.hint
    assert not controller.running and compare.run_button.isEnabled()
    assert stored_cells() >= 6  # what was written before the crash stays
