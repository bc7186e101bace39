"""Where the app's bundled files are (stylesheet, icons, the sample bundle).

The repository keeps them in the top-level ``resources/`` folder. Every way the app
is shipped puts that folder's files beside the package code as ``workbench/resources/``:

- a wheel (``setup.py`` copies ``resources/`` into the build; ``MANIFEST.in`` keeps it
  in the sdist), found through :mod:`importlib.resources`;
- the PyInstaller build (``packaging/workbench.spec`` lists them as data under
  ``workbench/resources``), found the same way;
- a checkout or an editable install, where nothing is copied: ``resources/`` beside
  the ``workbench`` package, recognised by the ``pyproject.toml`` next to it.

Every part of the app asks :func:`resource` or :func:`resources_dir`; nothing else
builds a path to these files. Importing this module needs neither Qt nor a display.
"""

from __future__ import annotations

import importlib.resources
from functools import cache
from pathlib import Path

PACKAGE_DIR = "resources"
"""The folder's name inside the package (wheel and frozen build)."""


def _packaged() -> Path | None:
    root = importlib.resources.files("workbench")
    if not isinstance(root, Path):  # a zipped package: not how this app ships
        return None
    folder = root / PACKAGE_DIR
    return folder if folder.is_dir() else None


def _checkout() -> Path | None:
    package = Path(__file__).resolve().parent
    source_root = package.parent
    folder = source_root / "resources"
    # pyproject.toml beside it: a source tree, not some other "resources" folder that
    # happens to sit next to site-packages/workbench.
    if folder.is_dir() and (source_root / "pyproject.toml").is_file():
        return folder
    return None


@cache
def resources_dir() -> Path:
    """The folder holding the bundled files; the packaged one wins over a checkout's.

    When neither exists (a broken install) this is the packaged location, so a missing
    file's path in an error message says where it was expected."""
    found = _packaged() or _checkout()
    if found is not None:
        return found
    return Path(__file__).resolve().parent / PACKAGE_DIR


def resource(name: str) -> Path:
    """The path of one bundled file (it may not exist in a broken install: check)."""
    return resources_dir() / name


__all__ = ["resource", "resources_dir"]
