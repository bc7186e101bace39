"""How the window starts the engine's child process, and what it knows of it.

:class:`EngineProcess` is what :class:`~workbench.ui.worker.RunController` is given to
run the engine in a child process (``workbench.app.engine_child``), and
:func:`give_engine` how the app gives it to a window's runs; :class:`WarmEngine` is
that process while it lives, kept between runs, and :class:`ActiveRun` the run it does
now.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QProcess

from workbench.app.engine_child import MODULE as CHILD_MODULE
from workbench.core.runs import CellResult, Run, RunSpec
from workbench.providers.profiles import ProviderProfile

if TYPE_CHECKING:
    from workbench.ui.main_window import MainWindow


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

    def arguments(self) -> list[str]:
        """The command's arguments, plus the vault to open while warming up."""
        extra = ["--vault", str(self.vault_path)]
        if self.actor:
            extra += ["--actor", self.actor]
        return [*self.command[1:], *extra]


def give_engine(window: MainWindow, launch: EngineProcess) -> None:
    """Run the window's comparisons in engine processes started with ``launch``.

    Compare's process is started now, in the background, and kept warm, so the first
    Run does not wait for Python to start; the status bar says what becomes of it. The
    Review panel's regression runs get a process of their own, started at the first one
    (most sessions never run one)."""
    window.controller.use_process(launch)
    window.controller.engine_status.connect(lambda text: window.statusBar().showMessage(text))
    window.regression.engine_process = launch


@dataclass(eq=False)
class WarmEngine:
    """The engine process, kept between runs, and what its output has told so far."""

    process: QProcess
    launch: EngineProcess
    spawned_at: float
    pending: bytearray = field(default_factory=bytearray)
    ready: bool = False
    stopping: bool = False
    """Asked to end (shutdown, another launch): its end is no reason to restart it."""


@dataclass(eq=False)
class ActiveRun:
    """The run the engine process is doing now."""

    spec: RunSpec
    cells: list[CellResult] = field(default_factory=list)
    run: Run | None = None
    error: BaseException | None = None

    @property
    def ended(self) -> bool:
        return self.run is not None or self.error is not None


MAX_QUICK_RESTARTS = 3
"""Engine processes in a row that may die before saying ``ready`` before the controller
stops restarting them by itself (the next Run tries again)."""
RESTART_DELAYS_MS = (0, 1000, 4000)
