"""A person's working folder for CLI tests: their own data directory (so no real vault
or settings are touched), a prompt file ``p.yaml`` in the current directory."""

from __future__ import annotations

from pathlib import Path

import pytest

GREET_PROMPT = """\
messages:
  - role: user
    content: "Hello {{ name }}"
variables:
  name: {default: Ada}
"""


def make_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path`` as the current directory and data directory, with ``p.yaml``."""
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("WORKBENCH_VAULT", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.yaml").write_text(GREET_PROMPT)
    return tmp_path
