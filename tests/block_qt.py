"""Pytest plugin: make PySide6 (and shiboken6) impossible to import.

Load it with ``-p tests.block_qt`` (and ``-p no:pytest-qt``: pytest-qt imports Qt). The
non-GUI tests then run as they would on a server with no Qt installed: any module
outside ``workbench.ui`` that imports Qt, even lazily, fails loudly there.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

import pytest

BLOCKED = ("PySide6", "shiboken6")


class QtBlocker:
    """A meta-path finder, first in line, that refuses the blocked packages."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        top = fullname.partition(".")[0]
        if top in BLOCKED:
            raise ModuleNotFoundError(
                f"No module named {fullname!r} (blocked by tests/block_qt.py: this test run "
                "proves that everything outside workbench.ui works without Qt)",
                name=fullname,
            )
        return None


def _already_imported() -> list[str]:
    return sorted(name for name in sys.modules if name.partition(".")[0] in BLOCKED)


if not any(isinstance(finder, QtBlocker) for finder in sys.meta_path):
    sys.meta_path.insert(0, QtBlocker())


def pytest_addoption(parser: pytest.Parser) -> None:
    # pyproject.toml sets pytest-qt's options for the GUI run; with pytest-qt disabled
    # they would be unknown keys, which --strict-config refuses. Declared here, unused.
    parser.addini("qt_log_level_fail", "pytest-qt's option, unused while Qt is blocked")
    parser.addini("qt_log_ignore", "pytest-qt's option, unused while Qt is blocked", "linelist")


def pytest_configure(config: pytest.Config) -> None:
    leaked = _already_imported()
    if leaked:
        raise pytest.UsageError(
            f"tests.block_qt was loaded after Qt was imported ({', '.join(leaked[:3])}). "
            "Load it with -p tests.block_qt and disable pytest-qt with -p no:pytest-qt."
        )


def pytest_sessionfinish(session: pytest.Session) -> None:
    leaked = _already_imported()
    if leaked:  # imported past the blocker (e.g. by a cached module object)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\nblock_qt: Qt was imported despite the block: {', '.join(leaked[:3])}")
