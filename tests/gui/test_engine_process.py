"""The app's way of running: the engine in a child process, kept warm between runs,
streaming into the grid.

The process starts when the window opens (before any Run), serves one run after
another, is started again if it dies, and is gone when the window closes. The child
resolves the provider key itself (here from the profile's ``key_env``: no keychain in
tests) and writes cells to the vault. Every GUI test's window runs its comparisons
this way (``tests/gui/conftest.py``); these tests are about the process itself.
"""

from __future__ import annotations

import os
import signal

import pytest

from tests.gui.conftest import ENGINE_READY_MS, engine_processes, engine_warm, two_versions
from tests.providerserver.server import DEFAULT_KEY, ProviderServer
from workbench.core.errors import UsageError, WorkbenchError
from workbench.core.runs import ModelRef, RunSpec, TestCase
from workbench.ui.engine_launch import EngineProcess
from workbench.ui.grid import CELL_ROLE
from workbench.vault import Vault
from workbench.vault.runs import RunStore

pytestmark = pytest.mark.gui

CASES = [
    TestCase(name="refund", values={"question": "Where is my refund?"}),
    TestCase(name="login", values={"question": "I cannot log in to my account"}),
    TestCase(name="hours", values={"question": "When are you open?"}),
]


@pytest.fixture
def proc_window(qtbot, window, vault: Vault):  # type: ignore[no-untyped-def]
    """The window on a prompt with three cases, its engine process warm."""
    two_versions(vault)
    vault.set_test_cases("support/reply", CASES)
    window.browser.reload()
    window.browser.select("support/reply")
    engine_warm(qtbot, window)
    return window


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _run(qtbot, window):  # type: ignore[no-untyped-def]
    """Press Run as a person would and wait for the run's end."""
    with qtbot.waitSignal(window.compare.run_finished, timeout=30_000) as done:
        window.compare.setup.run_button.click()
    return done.args[0]


def test_the_warm_engine_process_serves_run_after_run(
    qtbot, proc_window, vault: Vault, server: ProviderServer
) -> None:  # type: ignore[no-untyped-def]
    server.script(
        "test-model", ttft=0.02, chunks=3, chunk_delay=0.05, input_tokens=11, output_tokens=7
    )
    server.script("test-model-2", ttft=0.01, chunks=2)
    compare = proc_window.compare
    controller = proc_window.controller
    # Started with the window, before any Run: a run does not wait for Python to start.
    pid = controller.child_pid()
    assert pid is not None and pid != os.getpid() and pid in engine_processes()
    assert controller.engine_is_ready and not server.requests

    run = _run(qtbot, proc_window)
    assert run.status == "finished" and len(run.cells) == 12
    assert run.spec.cases == tuple(CASES)
    assert not controller.running and controller.child_pid() == pid and _alive(pid)

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
    assert compare.progress.value() == 12 and "12 of 12 cells" in compare.status.text()
    # The child wrote the run itself, and used the key it found in its environment.
    stored = RunStore(vault).load(run.id)
    assert stored.status == "finished" and len(stored.cells) == 12
    assert {c.output for c in stored.cells} == {c.output for c in run.cells}
    assert {r.headers.get("authorization") for r in server.requests} == {f"Bearer {DEFAULT_KEY}"}

    # The second run goes to the same process, and is its own run in the vault.
    second = _run(qtbot, proc_window)
    assert second.status == "finished" and len(second.cells) == 12 and second.id != run.id
    assert controller.child_pid() == pid
    assert RunStore(vault).load(second.id).status == "finished"
    assert len(server.requests) == 24

    proc_window.close()
    assert controller.child_pid() is None and not _alive(pid)


def test_the_live_counter_and_the_final_took_read_one_clock(
    qtbot, proc_window, server: ProviderServer
) -> None:  # type: ignore[no-untyped-def]
    server.script("test-model", ttft=0.05, chunks=2, chunk_delay=0.05)
    server.script("test-model-2", ttft=0.05, chunks=2)
    controller = proc_window.controller
    _run(qtbot, proc_window)
    took = controller.elapsed_s()
    # The GUI's monotonic clock (the server's records use the same clock, in-process):
    # it started before the first request left and stopped after the last answer.
    arrivals = [r.at for r in server.requests]
    assert controller.started_at < min(arrivals)
    assert controller.ended_at is not None and controller.ended_at > max(arrivals)
    assert took == pytest.approx(controller.ended_at - controller.started_at)
    assert proc_window.compare.status.text().endswith(f"took {took:.1f} s")
    assert controller.elapsed_s() == took  # stopped: it no longer counts


def test_cancel_is_clean_keeps_finished_cells_and_the_engine(
    qtbot, proc_window, vault: Vault, server: ProviderServer, capfd: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    server.script("test-model", ttft=0.0, chunks=1)
    server.script("test-model-2", ttft=30.0, chunks=1)  # would take 30 s: cancelled first
    compare = proc_window.compare
    pid = proc_window.controller.child_pid()
    compare.setup.run_button.click()
    qtbot.waitUntil(lambda: len(compare.grid_model.cells) >= 6, timeout=15_000)
    with qtbot.waitSignal(compare.run_finished, timeout=10_000) as done:
        compare.setup.cancel_button.click()
    run = done.args[0]
    assert run.status == "cancelled"
    assert all(c.key.model.model == "test-model" for c in run.cells)
    stored = RunStore(vault).load(run.id)
    assert stored.status == "cancelled" and len(stored.cells) == len(run.cells) >= 6
    assert compare.status.text().startswith("Cancelled")
    # Cancelling is not an error: nothing on stderr (the child's is the app's) says so.
    err = capfd.readouterr().err
    assert "Traceback" not in err and "CancelledError" not in err, err
    # The process is kept, and runs the next one.
    assert proc_window.controller.child_pid() == pid
    server.script("test-model-2", ttft=0.0, chunks=1)
    assert _run(qtbot, proc_window).status == "finished"
    assert proc_window.controller.child_pid() == pid


def test_closing_the_window_mid_run_stops_the_engine_process(
    qtbot, proc_window, vault: Vault, server: ProviderServer
) -> None:  # type: ignore[no-untyped-def]
    server.script("test-model", ttft=0.0, chunks=1)
    server.script("test-model-2", ttft=30.0, chunks=1)
    proc_window.compare.setup.run_button.click()
    pid = proc_window.controller.child_pid()
    assert pid is not None
    qtbot.waitUntil(lambda: len(proc_window.compare.grid_model.cells) >= 6, timeout=15_000)
    proc_window.close()
    assert not proc_window.controller.running and not _alive(pid)
    runs = RunStore(vault).list_runs("support/reply")
    assert runs[0].status == "cancelled"
    assert len(RunStore(vault).load(runs[0].id).cells) >= 6


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
    assert controller.engine_is_ready  # a failed run does not cost the warm process


def test_an_engine_that_cannot_start_is_reported(qtbot, window, vault: Vault, tmp_path) -> None:  # type: ignore[no-untyped-def]
    controller = window.controller
    missing = str(tmp_path / "no-such-python")
    with qtbot.waitSignal(controller.engine_status, timeout=10_000) as status:
        controller.use_process(EngineProcess(vault.path, dict, command=(missing, "-m", "x")))
    assert "could not start" in status.args[0]
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


def test_an_engine_process_that_dies_mid_run_is_reported_and_replaced(
    qtbot, proc_window, vault: Vault, server: ProviderServer
) -> None:  # type: ignore[no-untyped-def]
    server.script("test-model", ttft=0.0, chunks=1)
    server.script("test-model-2", ttft=30.0, chunks=1)
    compare = proc_window.compare
    controller = proc_window.controller
    compare.setup.run_button.click()
    store = RunStore(vault)

    def stored_cells() -> int:
        runs = store.list_runs("support/reply")
        return len(store.load(runs[0].id).cells) if runs else 0

    # The engine writes cells in batches (every 0.25 s): wait until they are on disk.
    qtbot.waitUntil(lambda: stored_cells() >= 6, timeout=15_000)
    pid = controller.child_pid()
    assert pid is not None
    with (
        qtbot.waitSignal(controller.failed, timeout=10_000) as failed,
        qtbot.waitSignal(controller.engine_status, timeout=10_000) as status,
    ):
        os.kill(pid, signal.SIGKILL)
    exc = failed.args[0]
    assert isinstance(exc, WorkbenchError) and "engine process crashed" in exc.message
    assert "kept in the vault" in exc.hint
    assert "starting a new one" in status.args[0]
    assert not controller.running and compare.setup.run_button.isEnabled()
    assert stored_cells() >= 6  # what was written before the crash stays

    # A new process, warm again without a Run; the next run works.
    with qtbot.waitSignal(controller.engine_ready, timeout=ENGINE_READY_MS):
        pass
    new_pid = controller.child_pid()
    assert new_pid is not None and new_pid != pid
    server.script("test-model-2", ttft=0.0, chunks=1)
    assert _run(qtbot, proc_window).status == "finished"


def test_an_idle_engine_process_that_dies_is_replaced(qtbot, proc_window) -> None:  # type: ignore[no-untyped-def]
    controller = proc_window.controller
    pid = controller.child_pid()
    assert pid is not None
    with qtbot.waitSignal(controller.engine_status, timeout=10_000) as stopped:
        os.kill(pid, signal.SIGTERM)  # not the app's doing: an OOM killer, a person
    assert "starting a new one" in stopped.args[0]
    with qtbot.waitSignal(controller.engine_status, timeout=ENGINE_READY_MS) as back:
        pass
    assert back.args[0] == "The engine process is running again."
    assert controller.engine_is_ready and controller.child_pid() not in (None, pid)
