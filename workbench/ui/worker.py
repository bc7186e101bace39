"""Comparison runs, done by the engine in its own process, shown as they stream.

- :class:`RunController` runs the engine in a child process (given by
  :meth:`RunController.use_process`): the engine, its event loop and its vault writer
  run in ``workbench.app.engine_child`` and stream JSON lines back. The GUI process
  does no engine work at all, so the window never waits for the engine's share of the
  interpreter lock. ``QProcess`` delivers output on the GUI thread; no reader thread is
  needed. The process is started when the window opens and kept warm between runs, so
  a run's first request leaves at once instead of after Python's start and the
  engine's imports; one that dies is started again.

  The GUI drains at most every ``DRAIN_MS`` (token deltas coalesced per cell), so a
  300-call run costs the GUI thread a few short batches instead of thousands of
  signals.

How the child is started, and what the controller knows of it, is in
:mod:`workbench.ui.engine_launch`; other work off the GUI thread goes through
:mod:`workbench.ui.ops`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QProcess, QTimer, Signal, Slot

from workbench.app.engine_child import (
    CANCEL_LINE,
    PROTOCOL,
    QUIT_LINE,
    CellEvent,
    DeltasEvent,
    EngineEvent,
    EngineRequest,
    FailedEvent,
    ReadyEvent,
    RunEvent,
    error_from_event,
    parse_event,
)
from workbench.core.errors import WorkbenchError
from workbench.core.runs import CellKey, CellResult, RunSpec
from workbench.ui.engine_launch import (
    MAX_QUICK_RESTARTS,
    RESTART_DELAYS_MS,
    ActiveRun,
    EngineProcess,
    WarmEngine,
)

DRAIN_MS = 50


@dataclass
class _Buffer:
    """What the engine process sent since the last drain (touched on the GUI thread)."""

    deltas: dict[CellKey, list[str]] = field(default_factory=dict)
    cells: list[CellResult] = field(default_factory=list)
    done: int = 0
    total: int = 0
    spent: float = 0.0


@dataclass(frozen=True)
class Batch:
    """What arrived since the last drain."""

    deltas: dict[CellKey, str]
    cells: list[CellResult]
    done: int
    total: int
    spent_usd: float


class RunController(QObject):
    """One engine run at a time. Signals arrive on the GUI thread.

    The engine process is started in the background as soon as
    :meth:`use_process` is called and kept between runs; if it dies it is started again
    (``engine_status`` says so). Every run's clock is the GUI's monotonic clock from
    :meth:`start` (the Run click) on: :meth:`elapsed_s` gives the live counter and the
    final figure alike."""

    started = Signal(object)  # RunSpec
    batch = Signal(object)  # Batch
    finished = Signal(object)  # Run
    failed = Signal(object)  # BaseException
    engine_status = Signal(str)
    """A sentence about the engine process for the status bar (stopped, restarted...)."""
    engine_ready = Signal()
    """The engine process is warm: a run sent now starts at once."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._process: EngineProcess | None = None
        self._warm: WarmEngine | None = None
        self._active: ActiveRun | None = None
        self._quick_deaths = 0
        self._restarting = False
        self._spawn_timer = QTimer(self)
        self._spawn_timer.setSingleShot(True)
        self._spawn_timer.timeout.connect(self._ensure_engine)
        self._buffer = _Buffer()
        self._drain_timer = QTimer(self)
        self._drain_timer.setSingleShot(True)
        self._drain_timer.timeout.connect(self._drain)
        self._last_drain = 0.0
        self.started_at = 0.0
        """``time.monotonic()`` when the current or last run was started (Run pressed)."""
        self.ended_at: float | None = None
        """``time.monotonic()`` when the last run's end reached the GUI; None while one runs."""

    @property
    def running(self) -> bool:
        return self._active is not None

    def elapsed_s(self) -> float:
        """Seconds since the run started; after it ended, how long it took. One clock."""
        if not self.started_at:
            return 0.0
        end = time.monotonic() if self.ended_at is None else self.ended_at
        return max(0.0, end - self.started_at)

    def use_process(self, process: EngineProcess) -> None:
        """Run the engine in this child process from the next run on.

        The process is started right after this (on the next event-loop turn, so a
        window opening first is not slowed) and kept warm between runs."""
        if self.running:
            raise RuntimeError("cannot change the engine process while a run is going")
        if self._warm is not None and self._warm.launch != process:
            self._stop_engine(self._warm, wait_s=0.0)
        self._process = process
        self._quick_deaths = 0
        self._spawn_timer.start(0)

    def child_pid(self) -> int | None:
        """The engine process's id while it lives (between runs too: it is kept warm)."""
        warm = self._warm
        if warm is None or warm.process.state() == QProcess.ProcessState.NotRunning:
            return None
        return int(warm.process.processId()) or None

    @property
    def engine_is_ready(self) -> bool:
        """The engine process is up and warm."""
        return self._warm is not None and self._warm.ready

    def start(self, spec: RunSpec) -> None:
        if self.running:
            raise RuntimeError("a run is already going")
        if self._process is None:
            raise RuntimeError("no engine process to run in: call use_process first")
        self.started_at, self.ended_at = time.monotonic(), None
        self._start_in_process(self._process, spec)

    def cancel(self) -> None:
        """Stop the run: in-flight calls end; finished cells are kept in the vault."""
        warm = self._warm
        if (
            self._active is not None
            and warm is not None
            and warm.process.state() != QProcess.ProcessState.NotRunning
        ):
            warm.process.write(CANCEL_LINE + b"\n")

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel the run and wait for the engine process to end (it writes finished
        cells itself). A later :meth:`start` starts a new one."""
        self._spawn_timer.stop()
        warm = self._warm
        if warm is not None:
            self._stop_engine(warm, wait_s=timeout)

    @Slot()
    def _schedule_drain(self) -> None:
        if self._drain_timer.isActive():
            return
        since = (time.monotonic() - self._last_drain) * 1000
        self._drain_timer.start(max(0, int(DRAIN_MS - since)))

    @Slot()
    def _drain(self) -> None:
        self._last_drain = time.monotonic()
        if self._warm is not None:
            self._parse_engine_output(self._warm)
        buf = self._buffer
        deltas = {k: "".join(v) for k, v in buf.deltas.items()}
        cells = buf.cells
        buf.deltas, buf.cells = {}, []
        if deltas or cells:
            self.batch.emit(Batch(deltas, cells, buf.done, buf.total, buf.spent))
        active = self._active
        if active is not None and active.ended:
            self._end_active(active)

    # ---- the engine process ----------------------------------------------------------

    @Slot()
    def _ensure_engine(self) -> WarmEngine | None:
        """The warm engine process, started if there is none."""
        launch = self._process
        if launch is None:
            return None
        warm = self._warm
        if warm is not None and warm.process.state() != QProcess.ProcessState.NotRunning:
            return warm
        process = QProcess(self)
        # stdout carries the events; the child's own messages go to the app's stderr.
        process.setProcessChannelMode(QProcess.ProcessChannelMode.ForwardedErrorChannel)
        warm = WarmEngine(process, launch, time.monotonic())
        process.readyReadStandardOutput.connect(lambda: self._engine_output(warm))
        process.finished.connect(lambda _code, _status: self._engine_finished(warm))
        process.errorOccurred.connect(lambda error: self._engine_error(warm, error))
        self._warm = warm
        program, *_ = launch.command
        process.start(program, launch.arguments())
        return self._warm  # None when it failed to start at once

    def _start_in_process(self, launch: EngineProcess, spec: RunSpec) -> None:
        active = ActiveRun(spec)
        self._active = active
        self._buffer = _Buffer(total=spec.total_cells)
        self.started.emit(spec)
        request = EngineRequest(
            vault=launch.vault_path,
            spec=spec,
            profiles=tuple(launch.profiles().values()),
            actor=launch.actor,
        )
        self._quick_deaths = 0  # a person asked: try again even after failed starts
        warm = self._ensure_engine()
        if warm is None or self._active is not active:
            return  # it could not start: already reported
        warm.process.write(request.line())  # buffered by Qt until the process is up

    def _engine_output(self, warm: WarmEngine) -> None:
        """Only moves bytes; parsing waits for the next drain, so it happens in batches."""
        warm.pending += warm.process.readAllStandardOutput().data()
        if b"\n" in warm.pending and warm is self._warm:
            self._schedule_drain()

    def _parse_engine_output(self, warm: WarmEngine) -> None:
        end = warm.pending.rfind(b"\n")
        if end < 0:
            return
        lines = bytes(warm.pending[:end]).split(b"\n")
        del warm.pending[: end + 1]
        buf = self._buffer
        try:
            for line in lines:
                if line.strip():
                    self._apply_event(warm, buf, parse_event(line))
        except (ValueError, KeyError, TypeError) as exc:  # ValidationError is a ValueError
            # Not our protocol: stop the process rather than show half-understood results.
            active = self._active
            if active is not None and not active.ended:
                active.error = RuntimeError(f"the engine process sent unreadable output: {exc}")
            warm.process.kill()

    def _apply_event(self, warm: WarmEngine, buf: _Buffer, event: EngineEvent) -> None:
        if isinstance(event, ReadyEvent):
            if event.protocol != PROTOCOL:
                raise ValueError(
                    f"it speaks protocol {event.protocol}, this app {PROTOCOL}; "
                    "reinstall the workbench"
                )
            warm.ready = True
            self._quick_deaths = 0
            if self._restarting:
                self._restarting = False
                self.engine_status.emit("The engine process is running again.")
            self.engine_ready.emit()
            return
        active = self._active
        if active is None or active.ended:
            return  # nothing asked for it (cannot happen with this protocol)
        if isinstance(event, DeltasEvent):
            for delta in event.deltas:
                buf.deltas.setdefault(delta.key, []).append(delta.text)
        elif isinstance(event, CellEvent):
            active.cells.append(event.cell)
            buf.cells.append(event.cell)
            buf.done, buf.total, buf.spent = event.done, event.total, event.spent_usd
        elif isinstance(event, RunEvent):
            # The parent's own spec (test-case values as given) and the cells it collected.
            active.run = event.run.model_copy(
                update={"spec": active.spec, "cells": tuple(active.cells)}
            )
        elif isinstance(event, FailedEvent):
            active.error = error_from_event(event)

    def _end_active(self, active: ActiveRun) -> None:
        """Report the run the engine process finished (or that ended with it)."""
        if self._active is not active:
            return
        self._active = None
        self.ended_at = time.monotonic()
        if active.error is not None:
            self.failed.emit(active.error)
        elif active.run is not None:
            self.finished.emit(active.run)

    def _engine_error(self, warm: WarmEngine, error: QProcess.ProcessError) -> None:
        if error != QProcess.ProcessError.FailedToStart or warm is not self._warm:
            return  # a crash is reported by `finished`, which follows
        self._warm = None
        warm.process.deleteLater()
        problem = WorkbenchError(
            f"the engine process could not start: {warm.process.errorString()}",
            hint="Reinstall Prompt Workbench, or run the compare from the command line: "
            "workbench compare ...",
        )
        self.engine_status.emit(f"{problem.message}. {problem.hint}")
        active = self._active
        if active is not None and not active.ended:
            active.error = problem
            self._drain_timer.stop()
            self._drain()

    def _engine_finished(self, warm: WarmEngine) -> None:
        if warm is not self._warm:
            warm.process.deleteLater()  # one we asked to stop, already replaced
            return
        warm.pending += warm.process.readAllStandardOutput().data()
        if warm.pending and not warm.pending.endswith(b"\n"):
            warm.pending += b"\n"
        self._drain_timer.stop()
        self._parse_engine_output(warm)
        self._warm = None
        warm.process.deleteLater()
        crashed = warm.process.exitStatus() == QProcess.ExitStatus.CrashExit
        how = "crashed" if crashed else f"exited with code {warm.process.exitCode()}"
        active = self._active
        if active is not None and not active.ended:
            active.error = WorkbenchError(
                f"the engine process {how} before the run ended",
                hint="Finished cells are kept in the vault (see Runs). Its messages are on "
                "the app's standard error; try the run again.",
            )
        self._drain()  # delivers the last cells, then the run's end
        if warm.stopping or self._process is None:
            return
        if not warm.ready:
            self._quick_deaths += 1
        if self._quick_deaths >= MAX_QUICK_RESTARTS:
            self.engine_status.emit(
                f"The engine process {how} {self._quick_deaths} times while starting; its "
                "messages are on the app's standard error. The next Run tries again."
            )
            return
        delay = RESTART_DELAYS_MS[min(self._quick_deaths, len(RESTART_DELAYS_MS) - 1)]
        self.engine_status.emit(f"The engine process {how}; starting a new one…")
        self._restarting = True
        self._spawn_timer.start(delay)

    def _stop_engine(self, warm: WarmEngine, wait_s: float) -> None:
        """Ask the engine process to end (it cancels a run and writes its cells first);
        with ``wait_s``, wait for it and kill it if it does not end in time.

        One still starting, with no run given to it, is killed at once: it reads no
        request before it is warm, so it has nothing to finish, and a window closed
        (or a test ended) right after opening need not wait for its imports."""
        warm.stopping = True
        process = warm.process
        if process.state() != QProcess.ProcessState.NotRunning:
            if not warm.ready and self._active is None:
                process.kill()
            else:
                process.write(QUIT_LINE + b"\n")
                process.closeWriteChannel()
        if wait_s <= 0:
            if warm is self._warm:
                self._warm = None  # its `finished` deletes it; nothing waits for it
            return
        if process.state() != QProcess.ProcessState.NotRunning and not process.waitForFinished(
            int(wait_s * 1000)
        ):
            process.kill()  # cells already written stay: every batch is a transaction
            process.waitForFinished(5000)
        if self._warm is warm:  # waitForFinished delivers `finished` itself, normally
            self._engine_finished(warm)
