"""Work off the GUI thread: :func:`run_in_thread` for reads and network, and the
window's one vault writer for every write.

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

Three kinds of work, in the order asked:

- :meth:`VaultWriter.write`, a short write (a commit, a case save, a decision);
- :meth:`VaultWriter.submit`, a long write on the writer's thread (an import: there it
  waits for the import's child process, see workbench.app.import_child);
- :meth:`VaultWriter.beside`, work that writes in short transactions between slow
  steps (a sync round or a publish: network calls between them). It runs on a thread
  of its own, not the writer's, so a commit never waits on a slow registry; short
  writes still go through while it runs (they meet only its brief transactions, well
  inside the busy timeout), but it never overlaps a long write: it waits for the
  import ahead of it, and an import asked for meanwhile waits for it. Before, a sync
  round during a 200,000-version import waited on SQLite's lock past the busy
  timeout and failed.

Not through here: the engine child process (its own process and connection; SQLite
serialises its short cell batches with ours).
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import shiboken6
from PySide6.QtCore import QObject, Signal, Slot

from workbench.core.errors import WorkbenchError
from workbench.ui.errors import ErrorReporter


@dataclass(eq=False)
class _Job:
    what: str
    fn: Callable[[], Any]
    done: Callable[[Any], None]
    failed: Callable[[BaseException], None] | None
    kind: Literal["short", "long", "beside"] = "long"
    cancel: Callable[[], None] | None = None


class VaultWriter(QObject):
    """``busy_changed`` carries what is being written ("" when idle): the status bar
    shows it, and a queued commit says what it waits for. ``waiting_changed`` carries
    how many writes are queued behind it."""

    busy_changed = Signal(str)
    waiting_changed = Signal(int)
    _finished = Signal(object, object, object)  # job, result, error (to the GUI thread)

    def __init__(self, reporter: ErrorReporter, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.reporter = reporter
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vault-writer")
        self._queue: deque[_Job] = deque()
        self._running: _Job | None = None
        self._beside: _Job | None = None
        self._beside_thread: threading.Thread | None = None
        self._closed = False
        self._waiting_said = 0
        self._finished.connect(self._on_finished)

    @property
    def busy(self) -> str:
        """What is being written now, or what queued writes wait for ("" when idle)."""
        if self._running is not None:
            return self._running.what
        if self._queue and self._beside is not None:
            return self._beside.what
        return ""

    @property
    def waiting(self) -> int:
        """How many writes are queued, not started yet."""
        return len(self._queue)

    @property
    def idle(self) -> bool:
        """Nothing runs (on the writer's thread or beside it) and nothing is queued."""
        return self._running is None and self._beside is None and not self._queue

    def write(
        self,
        what: str,
        fn: Callable[[], Any],
        done: Callable[[Any], None],
        failed: Callable[[BaseException], None] | None = None,
    ) -> bool:
        """A short write: now, on the GUI thread, when nothing is queued and no long
        write runs (returns True once ``done`` or ``failed`` ran); else queued behind
        what runs (returns False; the callbacks run when its turn came)."""
        job = _Job(what, fn, done, failed, "short")
        if self._running is not None or self._queue:
            self._queue.append(job)
            self._say_waiting()
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
        cancel: Callable[[], None] | None = None,
    ) -> None:
        """A long write: always on the writer's thread, after what is queued (and after
        work running :meth:`beside` it). ``cancel`` (any thread) makes ``fn`` end early
        when the writer closes: a write in a child process is ended, not waited for."""
        self._queue.append(_Job(what, fn, done, failed, "long", cancel))
        self._pump()

    def beside(
        self,
        what: str,
        fn: Callable[[], Any],
        done: Callable[[Any], None],
        failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Slow work that writes in short transactions (a sync round): on a thread of its
        own once what is queued ahead of it is done; long writes wait for it, short ones
        do not. One at a time."""
        self._queue.append(_Job(what, fn, done, failed, "beside"))
        self._pump()

    def _pump(self, was: str | None = None) -> None:
        """Start what may start: queued short writes and long writes one by one on the
        writer's thread, work beside it when no long write runs. ``busy_changed`` says
        when what is written changed (from ``was``, default: now)."""
        was = self.busy if was is None else was
        while self._queue and self._running is None and not self._closed:
            head = self._queue[0]
            if head.kind == "beside":
                if self._beside is not None:
                    break
                self._start_beside(self._queue.popleft())
                continue
            if head.kind == "long" and self._beside is not None:
                break  # the import waits for the sync round's end
            self._start_here(self._queue.popleft())
        if self.busy != was:
            self.busy_changed.emit(self.busy)
        self._say_waiting()

    def _say_waiting(self) -> None:
        if len(self._queue) != self._waiting_said:
            self._waiting_said = len(self._queue)
            self.waiting_changed.emit(self._waiting_said)

    def _start_here(self, job: _Job) -> None:
        self._running = job

        def work() -> None:
            self._run(job)

        self._pool.submit(work)

    def _start_beside(self, job: _Job) -> None:
        self._beside = job

        def work() -> None:
            self._run(job)

        self._beside_thread = threading.Thread(target=work, name="vault-writer-beside", daemon=True)
        self._beside_thread.start()

    def _run(self, job: _Job) -> None:
        """On a worker thread: the job, then its end to the GUI thread (unless the window
        and its writer are gone meanwhile: nothing is left to tell)."""
        try:
            result, error = job.fn(), None
        except BaseException as exc:
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # "Signal source has been deleted"
            self._finished.emit(job, result, error)

    @Slot(object, object, object)
    def _on_finished(self, job: _Job, result: Any, error: BaseException | None) -> None:
        was = self.busy
        if job is self._beside:
            self._beside = None
            thread, self._beside_thread = self._beside_thread, None
            if thread is not None:
                thread.join()
        elif job is self._running:
            self._running = None
        try:
            if error is not None:
                self._fail(job, error)
            else:
                job.done(result)
        finally:
            self._pump(was)

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
        while not self.idle and not deadline.hasExpired():
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

    def join_beside(self, timeout: float) -> None:
        """Wait for work running beside the writer (a sync round) to end its thread; its
        callbacks, queued to the GUI thread, are dropped once the writer is closed."""
        thread = self._beside_thread
        if thread is not None:
            thread.join(timeout)

    def close(self) -> None:
        """Drop what is queued; a running write finishes on its thread, or ends now if
        it can be cancelled (SQLite keeps it whole either way)."""
        self._closed = True
        self._queue.clear()
        running = self._running
        if running is not None and running.cancel is not None:
            running.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Relay(QObject):
    done = Signal(object, object)


_live_relays: set[_Relay] = set()


def run_in_thread(
    fn: Callable[[], Any],
    on_result: Callable[[Any], None],
    on_error: Callable[[BaseException], None],
    owner: QObject | None = None,
) -> threading.Thread:
    """Run ``fn`` on a new thread; call back on the GUI thread with its result or error.
    With ``owner``, nothing is delivered once it is deleted (a preview finishing after
    its editor closed)."""
    relay = _Relay()
    _live_relays.add(relay)

    def deliver(result: Any, exc: BaseException | None) -> None:
        _live_relays.discard(relay)
        if owner is not None and not shiboken6.isValid(owner):
            return
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
