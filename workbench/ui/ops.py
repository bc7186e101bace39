"""The window's one vault writer.

Every write the window makes to its vault goes through :class:`VaultWriter`, one at a
time, in the order asked. A long write (a bundle import: 200,000 versions take ~19 s
in one transaction) runs on the writer's thread, and a commit asked for meanwhile
queues behind it instead of waiting on SQLite's lock from the GUI thread: that froze
the window for the busy timeout (10 s) and then showed a raw "database is locked" in
the crash dialog. When nothing is running, a short write (a commit, a review
decision) runs at once on the GUI thread, so the common case costs no thread hop and
its result is there when the call returns.

Results and failures are delivered on the GUI thread; a failure goes to the given
callback, or else to the error reporter.

Not through here: the engine child process (its own process and connection; SQLite
serialises it with ours) and the sync loop's rounds, which hold network calls between
short transactions and would keep a commit waiting on a slow registry.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from workbench.core.errors import WorkbenchError
from workbench.ui.errors import ErrorReporter


@dataclass
class _Job:
    what: str
    fn: Callable[[], Any]
    done: Callable[[Any], None]
    failed: Callable[[BaseException], None] | None


class VaultWriter(QObject):
    """``busy_changed`` carries what is being written ("" when idle): the status bar
    shows it, and a queued commit says what it waits for."""

    busy_changed = Signal(str)
    _finished = Signal(object, object, object)  # job, result, error (to the GUI thread)

    def __init__(self, reporter: ErrorReporter, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.reporter = reporter
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vault-writer")
        self._queue: deque[_Job] = deque()
        self._running: _Job | None = None
        self._finished.connect(self._on_finished)

    @property
    def busy(self) -> str:
        """What is being written now ("" when idle)."""
        return self._running.what if self._running else ""

    def write(
        self,
        what: str,
        fn: Callable[[], Any],
        done: Callable[[Any], None],
        failed: Callable[[BaseException], None] | None = None,
    ) -> bool:
        """A short write: now, on the GUI thread, when the writer is idle (returns True
        once ``done`` or ``failed`` ran); else queued behind what runs (returns False;
        the callbacks run when its turn came)."""
        job = _Job(what, fn, done, failed)
        if self._running is not None or self._queue:
            self._queue.append(job)
            return False
        try:
            result = fn()
        except Exception as exc:
            self._fail(job, exc)
        else:
            done(result)
        return True

    def submit(
        self,
        what: str,
        fn: Callable[[], Any],
        done: Callable[[Any], None],
        failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        """A long write: always on the writer's thread, after what is queued."""
        self._queue.append(_Job(what, fn, done, failed))
        if self._running is None:
            self._next()

    def _next(self) -> None:
        if not self._queue:
            self._running = None
            self.busy_changed.emit("")
            return
        job = self._running = self._queue.popleft()
        self.busy_changed.emit(job.what)

        def work() -> None:
            try:
                result = job.fn()
            except BaseException as exc:
                self._finished.emit(job, None, exc)
            else:
                self._finished.emit(job, result, None)

        self._pool.submit(work)

    @Slot(object, object, object)
    def _on_finished(self, job: _Job, result: Any, error: BaseException | None) -> None:
        try:
            if error is not None:
                self._fail(job, error)
            else:
                job.done(result)
        finally:
            self._next()

    def _fail(self, job: _Job, exc: BaseException) -> None:
        """The job's ``failed``, else the error reporter. A ``failed`` that raises the
        error again hands it to the reporter too (after its own clean-up)."""
        if job.failed is not None:
            try:
                job.failed(exc)
                return
            except WorkbenchError as again:
                exc = again
        if isinstance(exc, WorkbenchError):
            self.reporter.report(exc, f"finish {job.what}")  # "Could not finish importing x"
        else:
            raise exc

    def wait_idle(self, timeout: float = 30.0) -> None:
        """For tests and shutdown: let the running and queued writes finish."""
        from PySide6.QtCore import QCoreApplication, QDeadlineTimer, QEventLoop

        deadline = QDeadlineTimer(int(timeout * 1000))
        while (self._running is not None or self._queue) and not deadline.hasExpired():
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

    def close(self) -> None:
        """Drop what is queued; a running write finishes on its thread (SQLite keeps
        it whole either way)."""
        self._queue.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
