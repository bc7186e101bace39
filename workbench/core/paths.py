"""Where the app keeps its files: the data directory, the default vault, the settings.

Light on purpose (no pydantic models): every CLI command resolves the vault path,
and most need nothing else from :mod:`workbench.settings`.
"""

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


def settings_path() -> Path:
    return data_dir() / "settings.json"


def model_lists_dir() -> Path:
    """Where each profile's listed models are cached (``workbench.app.models``)."""
    return data_dir() / "model-lists"
