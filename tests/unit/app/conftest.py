from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.vault import Vault


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    """A fresh vault in ``tmp_path`` whose actor is ada."""
    with Vault.open(tmp_path / "vault.sqlite3", create=True, actor="ada") as v:
        yield v
