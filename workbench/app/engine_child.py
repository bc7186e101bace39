"""The desktop app's engine process: kept warm, it runs comparisons one after another
and streams their events as JSON lines.

The app runs the engine here, not on a thread of its own process: the engine's event
loop and its vault writer would otherwise share the GUI's interpreter lock and stall
the window (measured: 75-120 ms pauses on a 300-call run). The app starts this process
when its window opens and keeps it between runs, so a run does not wait for Python to
start and import the engine (1-4 s on a loaded machine). Headless, no Qt::

    python -m workbench.app.engine_child [--vault PATH] [--actor NAME]

``--vault`` opens that vault while warming up, so the first run does not open it.

Protocol (bytes, one JSON object or word per line, UTF-8):

- stdout, first: ``{"event": "ready", "pid": int, "protocol": int}`` once the engine is
  imported and warm (requests sent before that wait, they are not lost); the reader
  refuses a child that speaks another :data:`PROTOCOL` (a stale install).
- stdin: an :class:`EngineRequest` per run (vault path, the run spec, provider
  profiles, optionally the run id and the vault actor). Keys are never sent: the child
  resolves them itself the normal way (keychain, then the profile's ``key_env``). Runs
  go one at a time, in the order sent.
- stdin: ``cancel`` cancels the current run (and one sent but not started yet);
  ``quit``, end of input (the app closed or died), SIGINT and SIGTERM cancel it and end
  the process once its finished cells are in the vault.
- stdout, per run: events, coalesced to at most one write every :data:`FLUSH_S`:
  ``{"event": "deltas", "deltas": [{"key": CellKey, "text": str}, ...]}`` (text since
  the last write, per cell), ``{"event": "cell", "cell": CellResult, "done", "total",
  "spent_usd"}``, and last either ``{"event": "run", "run": Run}`` (its ``cells`` left
  out: the reader already has them) or ``{"event": "failed", "error": class name,
  "message", "hint"}``. An unreadable request gets a ``failed`` event too; the process
  goes on serving.

Every line is one of the :data:`EngineEvent` models (a union discriminated by
``event``): the child writes them with pydantic's serializer and the app parses them
with :func:`parse_event`, so both ends share one typed definition.

Exit status: 0 after ``quit`` or end of input, 1 if the process itself broke.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from workbench.core import errors as error_tree
from workbench.core.errors import UsageError, WorkbenchError
from workbench.core.runs import CellKey, CellResult, Run, RunSpec
from workbench.providers.profiles import ProviderProfile

if TYPE_CHECKING:
    from workbench.vault import Vault
    from workbench.vault.direct import DirectVault

log = logging.getLogger(__name__)

MODULE = "workbench.app.engine_child"
FLUSH_S = 0.04
"""How often streamed text is written: often enough to look live, rarely enough that
the reader parses a few dozen lines a second, not thousands."""
CANCEL_LINE = b"cancel"
QUIT_LINE = b"quit"
TERMINAL_EVENTS = frozenset({"run", "failed"})
"""The events that end a run: the reader may send the next request after one."""
PROTOCOL = 1
"""The version of the event protocol below; bumped on any incompatible change."""


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReadyEvent(_Event):
    event: Literal["ready"] = "ready"
    pid: int
    protocol: int = PROTOCOL


class Delta(_Event):
    key: CellKey
    text: str


class DeltasEvent(_Event):
    """Streamed text since the last write, per cell."""

    event: Literal["deltas"] = "deltas"
    deltas: tuple[Delta, ...]


class CellEvent(_Event):
    event: Literal["cell"] = "cell"
    cell: CellResult
    done: int
    total: int
    spent_usd: float


class RunEvent(_Event):
    """The finished run; written without its cells (the reader has them already)."""

    event: Literal["run"] = "run"
    run: Run


class FailedEvent(_Event):
    event: Literal["failed"] = "failed"
    error: str
    """The exception's class name (one of ``workbench.core.errors`` when expected)."""
    message: str
    hint: str = ""
    expected: bool = False


EngineEvent = Annotated[
    ReadyEvent | DeltasEvent | CellEvent | RunEvent | FailedEvent, Field(discriminator="event")
]
_EVENTS: TypeAdapter[EngineEvent] = TypeAdapter(EngineEvent)


def parse_event(line: bytes) -> EngineEvent:
    """One line of the child's output as its event (``ValidationError`` if it is not)."""
    return _EVENTS.validate_json(line)


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


def error_from_event(event: FailedEvent, process: str = "the engine process") -> BaseException:
    """The exception a ``failed`` event stands for, as the person should see it.

    Errors of the tree come back as their own class (message and hint intact); anything
    else was a bug in the child (``process``) and stays an unexpected error."""
    name, message, hint = event.error, event.message, event.hint
    cls = getattr(error_tree, name, None)
    if isinstance(cls, type) and issubclass(cls, WorkbenchError):
        try:
            return cls(message, hint=hint)
        except TypeError:  # a subclass with a different constructor
            return WorkbenchError(message, hint=hint)
    if event.expected:
        return WorkbenchError(message, hint=hint)
    return RuntimeError(f"{process} failed: {message}")


def warm_prices() -> None:
    """Load genai-prices' data now (~0.15 s quiet, ~0.5 s loaded), not at the first run."""
    from workbench.engine.pricing import price_call

    price_call(ProviderProfile(name="warm-up", family="openai"), "gpt-4o-mini", 1, 1)


def warm_up() -> None:
    """Import and load what every run needs, before the first run asks for it."""
    import workbench.app.services
    import workbench.engine.runner
    import workbench.vault  # noqa: F401
    from workbench.providers.http import make_http_client

    warm_prices()
    # The engine's transport (aiohttp): its import is most of a first client's cost.
    with contextlib.suppress(Exception):  # a missing transport: the run says so
        asyncio.run(make_http_client(max_connections=1).aclose())
    with contextlib.suppress(Exception):  # no keychain here: each run explains it if needed
        import keyring

        keyring.get_keyring()


class _Input:
    """Lines from a file descriptor, read unbuffered.

    Raw ``os.read`` rather than ``sys.stdin``: the reader thread blocks in a read until
    the process ends, and a daemon thread holding a buffered stream's lock can abort
    interpreter shutdown."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._pending = b""

    def readline(self) -> bytes | None:
        """The next line without its newline; None at end of input."""
        while b"\n" not in self._pending:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                chunk = b""
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
        event = CellEvent(cell=cell, done=done, total=total, spent_usd=spent_usd)
        self.event(event)

    def event(self, event: _Event, exclude: Any = None) -> None:
        # pydantic's own serializer, not a dict through json.dumps (about 3x the work)
        self.lines.append(event.model_dump_json(exclude=exclude).encode())

    def flush(self) -> None:
        lines: list[bytes] = []
        if self.deltas:
            deltas = tuple(
                Delta(key=key, text="".join(parts)) for key, parts in self.deltas.items()
            )
            lines.append(DeltasEvent(deltas=deltas).model_dump_json().encode())
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


def failure_event(exc: BaseException) -> FailedEvent:
    """A ``failed`` event; its text passes the secret filter like any error a person sees."""
    from workbench.secrets.redaction import redact

    name = type(exc).__name__
    if isinstance(exc, WorkbenchError):
        return FailedEvent(
            error=name, message=redact(exc.message), hint=redact(exc.hint), expected=True
        )
    return FailedEvent(error=name, message=redact(f"{name}: {exc}"))


def _parse_request(raw: bytes) -> EngineRequest:
    try:
        return EngineRequest.model_validate_json(raw)
    except ValidationError as exc:
        raise UsageError(
            f"the engine process got an unreadable request: {exc.errors()[0]['msg']}",
            hint="Send one EngineRequest JSON line on stdin (see workbench.app.engine_child).",
        ) from exc


@dataclass
class _Vaults:
    """The one vault the process keeps open between runs (the app has one)."""

    key: tuple[Path, str | None] | None = None
    vault: Vault | DirectVault | None = None

    def get(self, path: Path, actor: str | None) -> Vault | DirectVault:
        """The plain-SQL vault (no SQLAlchemy to import before the first run), or the
        full one for a file that needs it (see ``workbench.vault.direct``)."""
        from workbench.vault.direct import DirectVault

        key = (path.expanduser().resolve(), actor)
        if self.vault is None or self.key != key:
            self.close()
            self.vault = DirectVault.open(path, actor=actor)
            if self.vault is None:
                from workbench.vault import Vault

                self.vault = Vault.open(path, actor=actor)
            self.key = key
        return self.vault

    def close(self) -> None:
        if self.vault is not None:
            self.vault.close()
        self.vault, self.key = None, None


@dataclass
class _Job:
    raw: bytes
    cancel: asyncio.Event = field(default_factory=asyncio.Event)


class _Server:
    """Reads lines on a thread, runs requests on the loop one at a time."""

    def __init__(self, source: _Input, emitter: _Emitter, vaults: _Vaults) -> None:
        self.source = source
        self.emitter = emitter
        self.vaults = vaults
        self.jobs: asyncio.Queue[_Job | None] = asyncio.Queue()
        self.latest: _Job | None = None

    # on the loop, called from the reader thread through call_soon_threadsafe
    def _line(self, line: bytes | None) -> None:
        word = None if line is None else line.strip()
        if word is None or word == QUIT_LINE:
            self._stop()
        elif word == CANCEL_LINE:
            if self.latest is not None:
                self.latest.cancel.set()
        elif word:
            self.latest = _Job(word)
            self.jobs.put_nowait(self.latest)

    def _stop(self) -> None:
        if self.latest is not None:
            self.latest.cancel.set()
        self.jobs.put_nowait(None)

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        """On a daemon thread: every input line to the loop; None at end of input."""
        while True:
            line = self.source.readline()
            try:
                loop.call_soon_threadsafe(self._line, line)
            except RuntimeError:  # the loop closed: the process is ending
                return
            if line is None:
                return

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._stop)
        threading.Thread(target=self._read, args=(loop,), name="stdin-read", daemon=True).start()
        writer = asyncio.ensure_future(self._write_loop())
        try:
            while (job := await self.jobs.get()) is not None:
                await self._run(job)
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
            self.emitter.flush()

    async def _write_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            self.emitter.flush()
            if self.emitter.reader_gone.is_set() and self.latest is not None:
                self.latest.cancel.set()  # nobody reads: stop spending on calls

    async def _run(self, job: _Job) -> None:
        from workbench.app.services import key_resolver, run_bindings
        from workbench.engine.runner import Engine

        emitter = self.emitter
        try:
            request = _parse_request(job.raw)
            vault = self.vaults.get(request.vault, request.actor)
            profiles = {p.name: p for p in request.profiles}
            engine = Engine(vault, profiles, keys=key_resolver(vault), bindings=run_bindings(vault))
            spans = _spans(vault, request.spec, engine, emitter)
            try:
                run = await engine.run(
                    request.spec, spans or emitter, job.cancel, run_id=request.run_id
                )
            finally:
                if spans is not None:
                    spans.close()
        except Exception as exc:  # every failure of a run is reported as its event
            if not isinstance(exc, WorkbenchError):
                log.exception("the run failed")
            emitter.flush()
            emitter.event(failure_event(exc))
        else:
            emitter.flush()
            emitter.event(RunEvent(run=run), exclude={"run": {"cells"}})
        emitter.flush()


def _spans(vault: Any, spec: Any, engine: Any, inner: Any) -> Any:
    """The OpenTelemetry span exporter around the emitter, when an endpoint is set
    (the same settings and variable as the CLI: ``workbench.app.telemetry``)."""
    from workbench.app.telemetry import SpanObserver, endpoint
    from workbench.settings import load_settings

    try:
        url = endpoint(load_settings().otel_endpoint)
    except WorkbenchError:
        url = endpoint(None)
    if url is None:
        return None
    labels = {vid: vault.version_by_id(vid).display_number for vid in spec.version_ids}
    return SpanObserver(url, spec, labels, engine.profiles, inner)


def serve(
    source: _Input, out: IO[bytes], vault: Path | None = None, actor: str | None = None
) -> int:
    """Warm up, say ``ready``, then run each request from ``source`` until it ends."""
    emitter = _Emitter(out)
    vaults = _Vaults()
    try:
        warm_up()
        if vault is not None:
            try:
                vaults.get(vault, actor)
            except WorkbenchError as exc:  # the first run reports it, with its hint
                log.warning("could not open the vault ahead of a run: %s", exc.message)
        emitter.event(ReadyEvent(pid=os.getpid()))
        emitter.flush()

        async def main() -> None:
            await _Server(source, emitter, vaults).serve()

        asyncio.run(main())
    except Exception:  # pragma: no cover - a bug in the serving loop itself
        log.exception("the engine process failed")
        return 1
    finally:
        vaults.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    from workbench.secrets.redaction import install_redaction

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--engine-child"]:  # how a frozen build starts it (workbench.entry)
        args = args[1:]
    parser = argparse.ArgumentParser(prog=MODULE, description="The app's engine process.")
    parser.add_argument("--vault", type=Path, default=None, help="open this vault ahead")
    parser.add_argument("--actor", default=None, help="the vault actor for --vault")
    options = parser.parse_args(args)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="engine: %(message)s")
    install_redaction()
    return serve(_Input(sys.stdin.fileno()), sys.stdout.buffer, options.vault, options.actor)


if __name__ == "__main__":
    sys.exit(main())
