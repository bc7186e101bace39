"""The ``workbench`` console script: a subcommand runs headless; none opens the app.

This module sits above both the CLI and the UI so neither imports the other.
"""

from __future__ import annotations

import sys
from pathlib import Path

NO_DISPLAY = """\
workbench: no display found (DISPLAY and WAYLAND_DISPLAY are unset), so the window cannot open.
How to go on:
  - on a desktop session, run it from a terminal inside that session;
  - on a server, under a virtual display:  xvfb-run -a make run
  - or use the command line:  .venv/bin/workbench --help   (e.g. workbench vault list)
"""


def launch_gui(vault: Path | None) -> int:
    from workbench.app.doctor import has_display

    if not has_display():
        sys.stderr.write(NO_DISPLAY)
        return 2
    from workbench.ui.app import run_app

    return run_app(vault)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--engine-child"]:  # the desktop app's engine process (frozen builds)
        from workbench.app.engine_child import main as engine_child

        return engine_child()
    if args[:1] == ["--import-child"]:  # the desktop app's bundle import (frozen builds)
        from workbench.app.import_child import main as import_child

        return import_child(args[1:])
    from workbench.cli.main import main as cli_main

    return cli_main(argv, launch_gui=launch_gui)


if __name__ == "__main__":
    sys.exit(main())
