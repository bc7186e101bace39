"""A new registry token in Settings changes who the window thinks you are at once:
the Sync tab's banner and the Review tab's role gating follow the new user, without
a restart, against a real registry under uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from tests.gui.conftest import app_window
from tests.gui.people import click, in_settings, type_into
from tests.server.conftest import RunningRegistry, running_registry
from workbench.engine.runner import ECHO_PROFILE
from workbench.registry.server.config import RegistrySettings
from workbench.registry.sync import token_key_name
from workbench.secrets.store import MemoryStore
from workbench.settings import Settings
from workbench.ui.settings_dialog import SettingsDialog
from workbench.vault import Vault


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    with running_registry(RegistrySettings(db_url=f"sqlite:///{tmp_path / 'reg.sqlite3'}")) as reg:
        yield reg


def test_a_new_token_changes_who_you_are_without_a_restart(
    qtbot, tmp_path: Path, data_dir: Path, vault: Vault, registry: RunningRegistry
) -> None:  # type: ignore[no-untyped-def]
    store = MemoryStore({token_key_name(registry.url): registry.tokens["alice"]})
    profiles = {"echo": ECHO_PROFILE}
    win = app_window(
        vault,
        Settings(registry_url=registry.url, registry_user="alice"),
        lambda: profiles,
        secrets=lambda: store,
        data_dir=data_dir,
        qsettings=QSettings(str(tmp_path / "layout.ini"), QSettings.Format.IniFormat),
        sync_interval_s=0,
    )
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.sync.last is not None and not win.sync.running, timeout=10_000)
    assert win.sync.me is not None and win.sync.me.name == "alice"
    assert "alice (author)" in win.sync_panel.state_label.text()
    assert win.review.role == "author"

    def steps(dialog: SettingsDialog) -> None:
        dialog.tabs.setCurrentIndex(1)  # Registry
        type_into(dialog, "Token", registry.tokens["bob"])  # same URL, another person
        click(dialog, "Save")

    in_settings(qtbot, win, steps)

    assert win.settings.registry_user is None  # not tested in the dialog: asked again
    qtbot.waitUntil(
        lambda: win.sync.me is not None and win.sync.me.name == "bob" and not win.sync.running,
        timeout=10_000,
    )
    assert "bob (reviewer)" in win.sync_panel.state_label.text()
    assert win.review.role == "reviewer"
    assert store.get(token_key_name(registry.url)) == registry.tokens["bob"]
    win.close()
    assert not win.sync.running


def test_a_round_under_way_does_not_bring_the_old_identity_back(
    qtbot, tmp_path: Path, data_dir: Path, vault: Vault, registry: RunningRegistry
) -> None:  # type: ignore[no-untyped-def]
    """The token changes while a round with the old one is still out."""
    key = token_key_name(registry.url)
    store = MemoryStore({key: registry.tokens["alice"]})
    profiles = {"echo": ECHO_PROFILE}
    win = app_window(
        vault,
        Settings(registry_url=registry.url),
        lambda: profiles,
        secrets=lambda: store,
        data_dir=data_dir,
        qsettings=QSettings(str(tmp_path / "layout.ini"), QSettings.Format.IniFormat),
        sync_interval_s=0,
    )
    qtbot.addWidget(win)
    win.show()
    # The window's first round (alice's token, asking whoami) is under way now.
    assert win.sync.running
    store.set(key, registry.tokens["carol"])
    win.sync.reset_identity()
    win.sync.sync_now(manual=False)  # queued behind the running round
    qtbot.waitUntil(
        lambda: win.sync.me is not None and not win.sync.running and win.sync._again is None,
        timeout=10_000,
    )
    assert win.sync.me is not None and win.sync.me.name == "carol"
    win.close()
