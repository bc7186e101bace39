"""Where things live on disk. Settings name keys; they never hold them."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "prompt-workbench"


def data_dir() -> Path:
    """The platform data directory (``WORKBENCH_DATA_DIR`` overrides it)."""
    env = os.environ.get("WORKBENCH_DATA_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def default_vault_path() -> Path:
    env = os.environ.get("WORKBENCH_VAULT")
    if env:
        return Path(env).expanduser()
    return data_dir() / "vault.sqlite3"
