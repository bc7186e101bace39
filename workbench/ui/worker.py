"""Work off the GUI thread.

- :class:`RunController` runs the engine on its own asyncio loop in one worker
  thread. The engine's observer only appends to a locked buffer; the GUI drains
  it at most every ``DRAIN_MS`` (token deltas coalesced per cell), so a 300-call
  run costs the GUI thread a few short batches instead of thousands of signals.
- :func:`run_in_thread` runs one blocking function (a connection test, a bundle
  import) on a thread and hands its result or error back through a queued signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from workbench.core.runs import CellKey, CellResult, Run, RunSpec
from workbench.engine.runner import Engine

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
        return self._thread is not None

    def start(self, spec: RunSpec) -> None:
        if self._thread is not None:
            raise RuntimeError("a run is already going")
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
        loop, event = self._loop, self._cancel
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(event.set)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel and wait for the engine thread (it writes finished cells itself)."""
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
