from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.core.models import Message, ModelDefaults, PromptContent, Variable
from workbench.vault import Vault


def make_content(
    system: str = "You help {{ customer }}.", user: str = "{{ question }}", **kw: object
) -> PromptContent:
    return PromptContent(
        messages=(Message(role="system", template=system), Message(role="user", template=user)),
        model=ModelDefaults(model="gpt-4o-mini", temperature=0.2),
        variables=(Variable(name="customer"), Variable(name="question")),
        **kw,
    )


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    with Vault.open(tmp_path / "vault.sqlite3", create=True, actor="ada") as v:
        yield v
