from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.providerserver.fixtures import provider_server  # noqa: F401 (a fixture)
from workbench.core.models import Message, ModelDefaults, PromptContent, Variable
from workbench.vault import Vault


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    with Vault.open(tmp_path / "vault.sqlite3", create=True, actor="ada") as v:
        yield v


def content(system: str = "You answer about {{ topic }}.", **model: object) -> PromptContent:
    return PromptContent(
        messages=(
            Message(role="system", template=system),
            Message(role="user", template="Tell me about {{ topic }} please"),
        ),
        model=ModelDefaults(**model),
        variables=(Variable(name="topic"),),
    )
