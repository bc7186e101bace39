"""Run one comparison in a child process and stream its events as JSON lines.

The desktop app runs the engine here, not on a thread of its own process: the engine's
event loop and its vault writer would otherwise share the GUI's interpreter lock and
stall the window (measured: 75-120 ms pauses on a 300-call run). Headless, no Qt::

    python -m workbench.app.engine_child

Protocol (bytes, one JSON object per line, UTF-8):

- stdin, first line: an :class:`EngineRequest` (vault path, the run spec, provider
  profiles, optionally the run id and the vault actor). Keys are never sent: the child
  resolves them itself the normal way (keychain, then the profile's ``key_env``).
- stdin, later: a line ``cancel`` cancels the run. End of input (the app closed or
  died) cancels too, as do SIGINT and SIGTERM. Finished cells are in the vault either way.
- stdout: events, coalesced to at most one write every :data:`FLUSH_S`:
  ``{"event": "deltas", "deltas": [{"key": CellKey, "text": str}, ...]}`` (text since
  the last write, per cell), ``{"event": "cell", "cell": CellResult, "done", "total",
  "spent_usd"}``, and last either ``{"event": "run", "run": Run}`` (its ``cells`` left
  out: the reader already has them) or ``{"event": "failed", "error": class name,
  "message", "hint"}``.

Exit status: 0 when a run record was written (finished or cancelled), 1 when the run
failed, 2 for an unreadable request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import uuid
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from workbench.core import errors as error_tree
from workbench.core.errors import UsageError, WorkbenchError
from workbench.core.runs import CellKey, CellResult, Run, RunSpec
from workbench.providers.profiles import ProviderProfile

log = logging.getLogger(__name__)

MODULE = "workbench.app.engine_child"
FLUSH_S = 0.04
"""How often streamed text is written: often enough to look live, rarely enough that
the reader parses a few dozen lines a second, not thousands."""
CANCEL_LINE = b"cancel"


class EngineRequest(BaseModel):
    """What the child is asked to run. Holds no secret: keys are resolved in the child."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vault: Path
    spec: RunSpec
    profiles: tuple[ProviderProfile, ...] = ()
    run_id: uuid.UUID | None = None
    actor: str | None = None

    def line(self) -> bytes:
        return self.model_dump_json().encode() + b"\n"


def error_from_event(event: dict[str, Any]) -> BaseException:
    """The exception a ``failed`` event stands for, as the person should see it.

    Errors of the tree come back as their own class (message and hint intact); anything
    else was a bug in the child and stays an unexpected error."""
    name, message = str(event.get("error", "")), str(event.get("message", ""))
    hint = str(event.get("hint", ""))
    cls = getattr(error_tree, name, None)
    if isinstance(cls, type) and issubclass(cls, WorkbenchError):
        try:
            return cls(message, hint=hint)
        except TypeError:  # a subclass with a different constructor
            return WorkbenchError(message, hint=hint)
    if event.get("expected"):
        return WorkbenchError(message, hint=hint)
    return RuntimeError(f"the engine process failed: {message}")


def _event_line(
    kind: str, fields: dict[str, Any], model: BaseModel, exclude: set[str] | None = None
) -> bytes:
    """One event line with a model under the key ``kind``, dumped by pydantic's own
    serializer rather than through a dict and ``json.dumps`` (about 3x the work)."""
    head = json.dumps({"event": kind, **fields})[:-1]
    body = model.model_dump_json(exclude=exclude)
    return f'{head}, "{kind}": {body}}}'.encode()


class _Input:
    """Lines from a file descriptor, read unbuffered.

    Raw ``os.read`` rather than ``sys.stdin``: the watcher thread blocks in a read until
    the process ends, and a daemon thread holding a buffered stream's lock can abort
    interpreter shutdown."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._pending = b""

    def readline(self) -> bytes | None:
        """The next line without its newline; None at end of input."""
        while b"\n" not in self._pending:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                if self._pending:
                    line, self._pending = self._pending, b""
                    return line
                return None
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line


class _Emitter:
    """The engine's observer: collects events on the loop, writes them in batches."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.deltas: dict[CellKey, list[str]] = {}
        self.lines: list[bytes] = []
        self.reader_gone = threading.Event()

    def on_delta(self, key: CellKey, text: str) -> None:
        self.deltas.setdefault(key, []).append(text)

    def on_cell(self, cell: CellResult, done: int, total: int, spent_usd: float) -> None:
        # The cell carries its whole output: text still waiting for it is not needed.
        self.deltas.pop(cell.key, None)
        fields = {"done": done, "total": total, "spent_usd": spent_usd}
        self.lines.append(_event_line("cell", fields, cell))

    def event(self, payload: dict[str, Any]) -> None:
        self.lines.append(json.dumps(payload).encode())

    def flush(self) -> None:
        lines: list[bytes] = []
        if self.deltas:
            items = [
                {"key": key.model_dump(mode="json"), "text": "".join(parts)}
                for key, parts in self.deltas.items()
            ]
            lines.append(json.dumps({"event": "deltas", "deltas": items}).encode())
            self.deltas = {}
        lines.extend(self.lines)
        self.lines = []
        if not lines or self.reader_gone.is_set():
            return
        try:
            self.out.write(b"\n".join(lines) + b"\n")
            self.out.flush()
        except (BrokenPipeError, ValueError, OSError):
            # The app is gone; the run still ends cleanly and its cells reach the vault.
            self.reader_gone.set()


def _watch_input(source: _Input, cancel: asyncio.Event, loop: asyncio.AbstractEventLoop) -> None:
    """On a daemon thread: a ``cancel`` line or end of input cancels the run."""
    while True:
        line = source.readline()
        if line is None or line.strip() == CANCEL_LINE:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(cancel.set)
            if line is None:
                return


async def _serve(request: EngineRequest, source: _Input, emitter: _Emitter) -> Run:
    from workbench.app.services import key_resolver
    from workbench.engine.runner import Engine
    from workbench.vault import Vault

    loop = asyncio.get_running_loop()
    cancel = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, cancel.set)
    threading.Thread(
        target=_watch_input, args=(source, cancel, loop), name="stdin-watch", daemon=True
    ).start()

    async def write_loop() -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            emitter.flush()
            if emitter.reader_gone.is_set():
                cancel.set()

    with Vault.open(request.vault, actor=request.actor) as vault:
        profiles = {p.name: p for p in request.profiles}
        engine = Engine(vault, profiles, keys=key_resolver(vault))
        writer = asyncio.ensure_future(write_loop())
        try:
            return await engine.run(request.spec, emitter, cancel, run_id=request.run_id)
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)


def _failure(exc: BaseException) -> dict[str, Any]:
    """A ``failed`` event; its text passes the secret filter like any error a person sees."""
    from workbench.secrets.redaction import redact

    name = type(exc).__name__
    if isinstance(exc, WorkbenchError):
        return {
            "event": "failed",
            "error": name,
            "message": redact(exc.message),
            "hint": redact(exc.hint),
            "expected": True,
        }
    return {"event": "failed", "error": name, "message": redact(f"{name}: {exc}")}


def serve(source: _Input, out: IO[bytes]) -> int:
    """Read one request from ``source``, run it, write its events to ``out``."""
    emitter = _Emitter(out)
    raw = source.readline()
    try:
        if raw is None:
            raise UsageError(
                "the engine process got no request",
                hint="It is started by the app; send one EngineRequest JSON line on stdin.",
            )
        request = EngineRequest.model_validate_json(raw)
    except (ValidationError, UsageError) as exc:
        err = (
            exc
            if isinstance(exc, UsageError)
            else UsageError(
                f"the engine process got an unreadable request: {exc.errors()[0]['msg']}",
                hint="Send one EngineRequest JSON line on stdin (see workbench.app.engine_child).",
            )
        )
        emitter.event(_failure(err))
        emitter.flush()
        return 2
    done: list[Run] = []

    async def main() -> None:
        # Returns nothing: asyncio.run formats the main task's result on the way out.
        done.append(await _serve(request, source, emitter))

    try:
        asyncio.run(main())
    except BaseException as exc:  # every failure is reported as an event
        if not isinstance(exc, WorkbenchError):
            log.exception("the run failed")
        emitter.flush()
        emitter.event(_failure(exc))
        emitter.flush()
        return 1
    emitter.flush()
    run = done[0]
    emitter.lines.append(_event_line("run", {}, run, exclude={"cells"}))
    emitter.flush()
    return 0


def main() -> int:
    from workbench.secrets.redaction import install_redaction

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="engine: %(message)s")
    install_redaction()
    return serve(_Input(sys.stdin.fileno()), sys.stdout.buffer)


if __name__ == "__main__":
    sys.exit(main())
