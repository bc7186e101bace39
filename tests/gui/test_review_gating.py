"""Review buttons that cannot act say why: your own version, or a role that may not review."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.gui.test_sync_ui import author_pushes, content, open_window, registry  # noqa: F401
from tests.server.conftest import RunningRegistry
from workbench.vault import Vault

pytestmark = pytest.mark.gui


def test_a_reviewer_cannot_approve_their_own_version(
    qtbot: Any,
    tmp_path: Path,
    registry: RunningRegistry,  # noqa: F811
    open_window: Any,  # noqa: F811
) -> None:
    vault = Vault.open(tmp_path / "bob.sqlite3", create=True, actor="bob")
    mine = vault.commit("support/reply", content("Hi {{ name }}"), "mine")
    win = open_window("bob", registry.url, registry.tokens["bob"], vault)  # pushes it
    win.tabs.setCurrentWidget(win.review)
    qtbot.waitUntil(lambda: win.review.select(mine.id), timeout=10_000)
    assert not win.review.approve_button.isEnabled()
    assert "your own version" in win.review.approve_button.toolTip()
    assert win.review.changes_button.isEnabled()


def test_an_author_is_told_their_role_cannot_review(
    qtbot: Any,
    tmp_path: Path,
    registry: RunningRegistry,  # noqa: F811
    open_window: Any,  # noqa: F811
) -> None:
    _v1, v2 = author_pushes(tmp_path, registry)
    win = open_window("alice", registry.url, registry.tokens["alice"])
    win.tabs.setCurrentWidget(win.review)
    qtbot.waitUntil(lambda: win.review.select(v2.id), timeout=10_000)
    assert not win.review.approve_button.isEnabled()
    assert "role is author" in win.review.approve_button.toolTip()
