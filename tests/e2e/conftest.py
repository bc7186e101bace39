from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.conftest import RunningRegistry, running_registry
from workbench.registry.server.config import RegistrySettings


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    settings = RegistrySettings(db_url=f"sqlite:///{tmp_path / 'registry.sqlite3'}")
    with running_registry(settings) as reg:
        yield reg
