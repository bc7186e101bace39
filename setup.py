"""Build hook: ship the top-level ``resources/`` folder inside the package.

Everything else about the build is declared in ``pyproject.toml``. The repository keeps
the stylesheet, icons and sample bundle in ``resources/`` (packaging and desktop files
use it too); a wheel carries them as ``workbench/resources/``, where
``workbench.assets`` looks first. An editable install copies nothing: the locator
reads ``resources/`` from the checkout.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

RESOURCES = Path(__file__).resolve().parent / "resources"


class BuildPyWithResources(build_py):
    """``build_py`` plus a copy of ``resources/*`` into ``<build>/workbench/resources``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        if not (RESOURCES / "workbench.qss").is_file():
            raise SystemExit(f"error: {RESOURCES} lacks workbench.qss: the wheel would be unstyled")
        target = Path(self.build_lib) / "workbench" / "resources"
        self.mkpath(str(target))
        for source in sorted(RESOURCES.iterdir()):
            if source.is_file():
                self.copy_file(str(source), str(target / source.name))


setup(cmdclass={"build_py": BuildPyWithResources})
