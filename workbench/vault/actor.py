"""Who a vault writes as when nobody said: the fallback author of commits and audit
events (a vault that has synced knows better: its registry login)."""

from __future__ import annotations

import getpass
import os


def default_author() -> str:
    """Who commits when nothing better is known: ``WORKBENCH_AUTHOR`` or the OS login.

    A vault that has synced knows better: its registry login (see :class:`Vault`)."""
    env = os.environ.get("WORKBENCH_AUTHOR")
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
