"""Work off the GUI thread.

- :class:`RunController` runs the engine, in one of two ways:

  * in a child process (:meth:`RunController.use_process`, what the app does): the
    engine, its event loop and its vault writer run in ``workbench.app.engine_child``
    and stream JSON lines back. The GUI process does no engine work at all, so the
    window never waits for the engine's share of the interpreter lock. ``QProcess``
    delivers output on the GUI thread; no reader thread is needed.
  * on its own asyncio loop in one worker thread (tests that inject an engine). The
    engine's observer only appends to a locked buffer.

  Either way the GUI drains at most every ``DRAIN_MS`` (token deltas coalesced per
  cell), so a 300-call run costs the GUI thread a few short batches instead of
  thousands of signals.
- :func:`run_in_thread` runs one blocking function (a connection test, a bundle
  import) on a thread and hands its result or error back through a queued signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QTimer, Signal, Slot

from workbench.app.engine_child import MODULE as CHILD_MODULE
from workbench.app.engine_child import EngineRequest, error_from_event
from workbench.core.errors import WorkbenchError
from workbench.core.runs import CellKey, CellResult, Run, RunSpec
from workbench.engine.runner import Engine
from workbench.providers.profiles import ProviderProfile

DRAIN_MS = 50
GUI_SWITCH_INTERVAL_S = 0.001


@dataclass
class _Buffer:
    lock: threading.Lock = field(default_factory=threading.Lock)
    deltas: dict[CellKey, list[str]] = field(default_factory=dict)
    cells: list[CellResult] = field(default_factory=list)
    done: int = 0
    total: int = 0
    spent: float = 0.0


def child_command() -> tuple[str, ...]:
    """How to start the engine process: this interpreter and the child module, or, in a
    frozen (PyInstaller) build, the app's own executable with ``--engine-child``."""
    if getattr(sys, "frozen", False):
        return (sys.executable, "--engine-child")
    return (sys.executable, "-m", CHILD_MODULE)


@dataclass(frozen=True)
class EngineProcess:
    """How :class:`RunController` starts the engine in a child process.

    ``profiles`` is read at each run, so edited settings apply to the next run; keys
    are not passed: the child reads them from the keychain (or ``key_env``) itself."""

    vault_path: Path
    profiles: Callable[[], Mapping[str, ProviderProfile]]
    actor: str | None = None
    command: tuple[str, ...] = field(default_factory=child_command)


@dataclass
class _Child:
    """The running engine process and what its output has told so far."""

    process: QProcess
    spec: RunSpec
    pending: bytearray = field(default_factory=bytearray)
    cells: list[CellResult] = field(default_factory=list)
    run: Run | None = None
    error: BaseException | None = None


@dataclass(frozen=True)
class Batch:
    """What arrived since the last drain."""

    deltas: dict[CellKey, str]
    cells: list[CellResult]
    done: int
    total: int
    spent_usd: float


class _Observer:
    """Called on the engine's loop thread: only touches the locked buffer."""

    def __init__(self, buffer: _Buffer, wake: Callable[[], None]) -> None:
        self.buffer = buffer
        self.wake = wake

    def on_delta(self, key: CellKey, text: str) -> None:
        with self.buffer.lock:
            first = not self.buffer.deltas and not self.buffer.cells
            self.buffer.deltas.setdefault(key, []).append(text)
        if first:
            self.wake()

    def on_cell(self, cell: CellResult, done: int, total: int, spent_usd: float) -> None:
        with self.buffer.lock:
            first = not self.buffer.deltas and not self.buffer.cells
            self.buffer.cells.append(cell)
            self.buffer.done, self.buffer.total, self.buffer.spent = done, total, spent_usd
        if first:
            self.wake()


class RunController(QObject):
    """One engine run at a time. Signals arrive on the GUI thread."""

    started = Signal(object)  # RunSpec
    batch = Signal(object)  # Batch
    finished = Signal(object)  # Run
    failed = Signal(object)  # BaseException
    _wake = Signal()  # emitted from the worker thread; queued to the GUI thread
    _done = Signal(object, object)  # (Run | None, BaseException | None)

    def __init__(self, engine_factory: Callable[[], Engine], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._engine_factory = engine_factory
        self._process: EngineProcess | None = None
        self._child: _Child | None = None
        self._thread: threading.Thread | None = None
        self._switch_interval = sys.getswitchinterval()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cancel: asyncio.Event | None = None
        self._cancel_requested = False
        self._buffer = _Buffer()
        self._drain_timer = QTimer(self)
        self._drain_timer.setSingleShot(True)
        self._drain_timer.timeout.connect(self._drain)
        self._last_drain = 0.0
        self._wake.connect(self._schedule_drain)
        self._done.connect(self._on_done)
        self.started_at = 0.0

    @property
    def running(self) -> bool:
        return self._thread is not None or self._child is not None

    def use_process(self, process: EngineProcess | None) -> None:
        """Run the engine in a child process from the next run on (None: on a thread)."""
        self._process = process

    def child_pid(self) -> int | None:
        """The engine process's id while one runs."""
        child = self._child
        return None if child is None else int(child.process.processId()) or None

    def start(self, spec: RunSpec) -> None:
        if self.running:
            raise RuntimeError("a run is already going")
        if self._process is not None:
            self._start_child(self._process, spec)
            return
        engine = self._engine_factory()
        self._buffer = _Buffer(total=spec.total_cells)
        self._cancel_requested = False
        self.started_at = time.monotonic()
        observer = _Observer(self._buffer, self._wake.emit)
        self._thread = threading.Thread(
            target=self._work, args=(engine, spec, observer), name="engine-loop", daemon=False
        )
        self.started.emit(spec)
        # The engine thread and the GUI thread share one interpreter lock; the default
        # 5 ms hand-over lets a busy engine starve the GUI. 1 ms keeps the GUI fluid.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
        self._thread.start()

    def _work(self, engine: Engine, spec: RunSpec, observer: _Observer) -> None:
        async def main() -> Run:
            self._loop = asyncio.get_running_loop()
            self._cancel = asyncio.Event()
            if self._cancel_requested:
                self._cancel.set()
            return await engine.run(spec, observer, self._cancel)

        try:
            run = asyncio.run(main())
        except BaseException as exc:
            self._done.emit(None, exc)
        else:
            self._done.emit(run, None)
        finally:
            self._loop = None

    def cancel(self) -> None:
        """Stop the run: in-flight calls end; finished cells are kept in the vault."""
        self._cancel_requested = True
        child = self._child
        if child is not None:
            if child.process.state() != QProcess.ProcessState.NotRunning:
                child.process.write(b"cancel\n")
            return
        loop, event = self._loop, self._cancel
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(event.set)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel and wait for the engine (it writes finished cells itself)."""
        child = self._child
        if child is not None:
            self.cancel()
            process = child.process
            if not process.waitForFinished(int(timeout * 1000)):
                process.kill()  # cells already written stay: every batch is a transaction
                process.waitForFinished(5000)
            if self._child is child:  # waitForFinished delivers `finished` itself, normally
                self._child_finished(child)
            return
        thread = self._thread
        if thread is None:
            return
        self.cancel()
        thread.join(timeout)
        if not thread.is_alive():
            # _on_done still arrives later (queued) and reports the run as usual.
            self._thread = None

    @Slot()
    def _schedule_drain(self) -> None:
        if self._drain_timer.isActive():
            return
        since = (time.monotonic() - self._last_drain) * 1000
        self._drain_timer.start(max(0, int(DRAIN_MS - since)))

    @Slot()
    def _drain(self) -> None:
        self._last_drain = time.monotonic()
        if self._child is not None:
            self._parse_child_output(self._child)
        buf = self._buffer
        with buf.lock:
            deltas = {k: "".join(v) for k, v in buf.deltas.items()}
            cells = buf.cells
            buf.deltas, buf.cells = {}, []
            done, total, spent = buf.done, buf.total, buf.spent
        if deltas or cells:
            self.batch.emit(Batch(deltas, cells, done, total, spent))

    @Slot(object, object)
    def _on_done(self, run: Run | None, exc: BaseException | None) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
            sys.setswitchinterval(self._switch_interval)
        self._drain_timer.stop()
        self._drain()
        if exc is not None:
            self.failed.emit(exc)
        elif run is not None:
            self.finished.emit(run)

    # ---- process mode ----------------------------------------------------------------

    def _start_child(self, launch: EngineProcess, spec: RunSpec) -> None:
        request = EngineRequest(
            vault=launch.vault_path,
            spec=spec,
            profiles=tuple(launch.profiles().values()),
            actor=launch.actor,
        )
        process = QProcess(self)
        # stdout carries the events; the child's own messages go to the app's stderr.
        process.setProcessChannelMode(QProcess.ProcessChannelMode.ForwardedErrorChannel)
        child = _Child(process, spec)
        process.readyReadStandardOutput.connect(lambda: self._child_output(child))
        process.finished.connect(lambda _code, _status: self._child_finished(child))
        process.errorOccurred.connect(lambda error: self._child_error(child, error))
        self._buffer = _Buffer(total=spec.total_cells)
        self._cancel_requested = False
        self.started_at = time.monotonic()
        self._child = child
        self.started.emit(spec)
        program, *args = launch.command
        process.start(program, args)
        process.write(request.line())  # buffered by Qt until the child is up

    def _child_output(self, child: _Child) -> None:
        """Only moves bytes; parsing waits for the next drain, so it happens in batches."""
        child.pending += child.process.readAllStandardOutput().data()
        if b"\n" in child.pending:
            self._schedule_drain()

    def _parse_child_output(self, child: _Child) -> None:
        end = child.pending.rfind(b"\n")
        if end < 0:
            return
        lines = bytes(child.pending[:end]).split(b"\n")
        del child.pending[: end + 1]
        buf = self._buffer
        try:
            for line in lines:
                if line.strip():
                    self._apply_event(child, buf, json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:  # ValidationError is a ValueError
            # Not our protocol: stop the child rather than show half-understood results.
            if child.error is None:
                child.error = RuntimeError(f"the engine process sent unreadable output: {exc}")
            child.process.kill()

    def _apply_event(self, child: _Child, buf: _Buffer, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "deltas":
            for item in event["deltas"]:
                key = CellKey.model_validate(item["key"])
                buf.deltas.setdefault(key, []).append(item["text"])
        elif kind == "cell":
            cell = CellResult.model_validate(event["cell"])
            child.cells.append(cell)
            buf.cells.append(cell)
            buf.done, buf.total, buf.spent = event["done"], event["total"], event["spent_usd"]
        elif kind == "run":
            run = Run.model_validate(event["run"])
            # The parent's own spec (test-case values as given) and the cells it collected.
            child.run = run.model_copy(update={"spec": child.spec, "cells": tuple(child.cells)})
        elif kind == "failed":
            child.error = error_from_event(event)

    def _child_error(self, child: _Child, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._child is child:
            child.error = WorkbenchError(
                f"the engine process could not start: {child.process.errorString()}",
                hint="Reinstall Prompt Workbench, or run the compare from the command line: "
                "workbench compare ...",
            )
            self._child_finished(child)

    def _child_finished(self, child: _Child) -> None:
        if self._child is not child:
            return  # already reported (a failed start, or shutdown got there first)
        child.pending += child.process.readAllStandardOutput().data()
        if child.pending and not child.pending.endswith(b"\n"):
            child.pending += b"\n"
        self._drain_timer.stop()
        try:
            self._drain()
        finally:
            self._child = None
            child.process.deleteLater()
        if child.error is None and child.run is None:
            code = child.process.exitCode()
            how = (
                "crashed"
                if child.process.exitStatus() == QProcess.ExitStatus.CrashExit
                else f"exited with code {code}"
            )
            child.error = WorkbenchError(
                f"the engine process {how} before the run ended",
                hint="Finished cells are kept in the vault (see Runs). Its messages are on "
                "the app's standard error; try the run again.",
            )
        if child.error is not None:
            self.failed.emit(child.error)
        elif child.run is not None:
            self.finished.emit(child.run)


class _Relay(QObject):
    done = Signal(object, object)


_live_relays: set[_Relay] = set()


def run_in_thread(
    fn: Callable[[], Any],
    on_result: Callable[[Any], None],
    on_error: Callable[[BaseException], None],
) -> threading.Thread:
    """Run ``fn`` on a new thread; call back on the GUI thread with its result or error."""
    relay = _Relay()
    _live_relays.add(relay)

    def deliver(result: Any, exc: BaseException | None) -> None:
        _live_relays.discard(relay)
        if exc is not None:
            on_error(exc)
        else:
            on_result(result)

    relay.done.connect(deliver)

    def work() -> None:
        try:
            result = fn()
        except BaseException as exc:
            relay.done.emit(None, exc)
        else:
            relay.done.emit(result, None)

    thread = threading.Thread(target=work, name="ui-task", daemon=True)
    thread.start()
    return thread
