"""A bundle import in a process of its own, so the window stays responsive.

Reading, checking and writing a 200,000-version bundle is ~20 s of Python work; on a
thread of the app's process it held the interpreter lock and froze the window for up to
38 s. The app runs it here instead (:class:`ImportProcess`, started from the window's
vault writer so the window's own writes still queue behind it). Headless, no Qt::

    python -m workbench.app.import_child --vault PATH --bundle PATH [--actor NAME]

Protocol: stdout carries one JSON object per line, each one of the :data:`ImportEvent`
models (discriminated by ``event``), written with pydantic and read with
:func:`parse_event`:

- ``{"event": "stage", "stage": "reading"|"writing", "step", "steps", "detail"}`` as
  each step starts (``detail`` e.g. "200,000 versions of 10,000 prompts");
- last, ``{"event": "done", "report": ImportReport}`` or ``{"event": "failed", ...}``
  (the engine process's :class:`~workbench.app.engine_child.FailedEvent`).

The import is one transaction: killed (the app closed), it leaves the vault as it was.
Exit status: 0 when imported, 1 when it failed (the ``failed`` line says why).
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from workbench.app.engine_child import FailedEvent, error_from_event, failure_event
from workbench.core.errors import InputError, WorkbenchError
from workbench.secrets.redaction import redact
from workbench.vault.transfer import ImportReport

MODULE = "workbench.app.import_child"
FROZEN_FLAG = "--import-child"
"""How a frozen build's executable is told to be this process (see workbench.entry)."""
STEPS = 2
STOP_WAIT_S = 5.0
"""How long a cancelled child gets to end on SIGTERM before it is killed."""
AGAIN = (
    "Nothing was imported (the import is one transaction). Import the bundle again; "
    "if it fails the same way, run `workbench vault import FILE` in a terminal to see why."
)


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StageEvent(_Event):
    """A step of the import starts."""

    event: Literal["stage"] = "stage"
    stage: Literal["reading", "writing"]
    step: int
    steps: int = STEPS
    detail: str

    def describe(self) -> str:
        """What runs, for the status bar: "writing 200,000 versions of 10 prompts"."""
        return f"{self.stage} {self.detail}"


class DoneEvent(_Event):
    event: Literal["done"] = "done"
    report: ImportReport


ImportEvent = Annotated[StageEvent | DoneEvent | FailedEvent, Field(discriminator="event")]
_EVENTS: TypeAdapter[ImportEvent] = TypeAdapter(ImportEvent)


def parse_event(line: bytes) -> ImportEvent:
    """One line of the child's output as its event (``ValidationError`` if it is not)."""
    return _EVENTS.validate_json(line)


def run_import(
    vault_path: Path, bundle_path: Path, actor: str | None, say: Callable[[BaseModel], None]
) -> ImportReport:
    """Read, check and import the bundle in one transaction, saying each step."""
    from workbench.vault import Vault
    from workbench.vault.bundle import parse_bundle

    try:
        size = bundle_path.stat().st_size
        say(
            StageEvent(stage="reading", step=1, detail=f"{bundle_path.name} ({size / 1e6:,.1f} MB)")
        )
        raw = bundle_path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read {bundle_path}: {exc.strerror or exc}",
            hint="Check that the file exists and you may read it, then import it again.",
        ) from exc
    bundle = parse_bundle(raw, str(bundle_path))
    del raw
    versions = sum(len(p.versions) for p in bundle.prompts)
    detail = f"{versions:,} versions of {len(bundle.prompts):,} prompts"
    say(StageEvent(stage="writing", step=2, detail=detail))
    vault = Vault.open(vault_path, actor=actor)
    try:
        return vault.import_bundle(bundle)
    finally:
        vault.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=MODULE, description=__doc__.splitlines()[0])
    ap.add_argument("--vault", type=Path, required=True)
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--actor")
    args = ap.parse_args(argv)
    out = sys.stdout.buffer

    def say(event: BaseModel) -> None:
        out.write(event.model_dump_json().encode() + b"\n")
        out.flush()

    try:
        report = run_import(args.vault, args.bundle, args.actor, say)
    except Exception as exc:
        say(failure_event(exc))
        return 1
    say(DoneEvent(report=report))
    return 0


def child_command() -> tuple[str, ...]:
    """This interpreter and this module, or, in a frozen (PyInstaller) build, the app's
    own executable with :data:`FROZEN_FLAG`."""
    if getattr(sys, "frozen", False):
        return (sys.executable, FROZEN_FLAG)
    return (sys.executable, "-m", MODULE)


class ImportCancelled(WorkbenchError):
    """The import was stopped (the window closed); the vault is as it was."""


@dataclass(eq=False)
class ImportProcess:
    """One import in a child process: :meth:`run` starts it and blocks (on the caller's
    thread, e.g. the window's vault writer) until it ends; :meth:`cancel`, from any
    thread, ends it."""

    vault: Path
    bundle: Path
    actor: str | None = None
    command: tuple[str, ...] = field(default_factory=child_command)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _cancelled: bool = field(default=False, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def arguments(self) -> list[str]:
        extra = ["--vault", str(self.vault), "--bundle", str(self.bundle)]
        if self.actor:
            extra += ["--actor", self.actor]
        return [*self.command, *extra]

    def run(self, on_stage: Callable[[StageEvent], None]) -> ImportReport:
        """The import's report; raises what it failed with (``ImportCancelled`` once
        cancelled). ``on_stage`` is called on this thread at each step."""
        with tempfile.TemporaryFile() as errors:
            with self._lock:
                if self._cancelled:
                    raise ImportCancelled("the import was cancelled", hint=AGAIN)
                self._process = process = subprocess.Popen(
                    self.arguments(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=errors,
                )  # fmt: skip
            assert process.stdout is not None
            try:
                report = self._read(process.stdout, on_stage)
            finally:
                self._stop(process)
                process.stdout.close()
            if report is not None:
                return report
            if self._cancelled:
                raise ImportCancelled("the import was cancelled", hint=AGAIN)
            errors.seek(0)
            last = errors.read()[-4000:].decode("utf-8", "replace").strip().splitlines()
            raise WorkbenchError(
                f"the import process ended without finishing (exit status "
                f"{process.returncode}{': ' + redact(last[-1]) if last else ''})",
                hint=AGAIN,
            )

    def _read(
        self, stdout: IO[bytes], on_stage: Callable[[StageEvent], None]
    ) -> ImportReport | None:
        """The report from the child's lines, None if they end without an outcome."""
        for line in stdout:
            try:
                event = parse_event(line)
            except ValidationError:
                continue  # not ours (a library printing): the terminal event says the outcome
            if isinstance(event, StageEvent):
                on_stage(event)
            elif isinstance(event, DoneEvent):
                return event.report
            else:
                raise error_from_event(event, "the import process")
        return None

    def _stop(self, process: subprocess.Popen[bytes]) -> None:
        """Let the process end (it has said its last line), or end it."""
        try:
            process.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def cancel(self) -> None:
        """End the child (SIGTERM, then SIGKILL after :data:`STOP_WAIT_S`); its one
        transaction rolls back, so the vault keeps nothing of the import."""
        with self._lock:
            self._cancelled = True
            process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()


if __name__ == "__main__":
    sys.exit(main())
