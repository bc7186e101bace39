"""Identity and registry labels in the window.

- No registry login known: the first commit asks for the author's name once (a real
  QInputDialog, typed into), keeps it in the settings, and drafts are named
  "draft N (abcdef)".
- After a sync numbers the drafts, History shows v1/v2 without reopening the prompt,
  and the registry's label shows in its Labels column and in the label filter.
- Offline, the publish dialog shows the label as of the last sync, with its history,
  and keeps Publish off.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit

from tests.gui.conftest import app_window
from tests.server.conftest import running_registry
from workbench.core.models import Message, PromptContent
from workbench.engine.runner import ECHO_PROFILE
from workbench.registry.review import publish, queue_review
from workbench.registry.server.config import RegistrySettings
from workbench.registry.sync import Syncer, token_key_name
from workbench.secrets.store import MemoryStore
from workbench.settings import Settings
from workbench.ui.main_window import MainWindow
from workbench.ui.publish import PublishDialog
from workbench.vault import Vault

pytestmark = pytest.mark.gui


def content(text: str) -> PromptContent:
    return PromptContent(messages=(Message(role="user", template=text),))


@pytest.fixture
def make_window(qtbot, tmp_path: Path, data_dir: Path) -> Iterator[Callable[..., MainWindow]]:
    opened: list[MainWindow] = []

    def make(
        vault: Vault, settings: Settings, saved: list[Settings], token: str = ""
    ) -> MainWindow:
        store = MemoryStore()
        if settings.registry_url:
            store.set(token_key_name(settings.registry_url), token)
        win = app_window(
            vault,
            settings,
            lambda: {"echo": ECHO_PROFILE},
            secrets=lambda: store,
            data_dir=data_dir,
            qsettings=QSettings(str(tmp_path / "layout.ini"), QSettings.Format.IniFormat),
            save_settings=saved.append,
            sync_interval_s=0,
        )
        qtbot.addWidget(win)
        win.show()
        opened.append(win)
        if settings.registry_url:
            qtbot.waitUntil(lambda: win.sync.last is not None, timeout=10_000)
        return win

    yield make
    for win in opened:
        win.close()
        assert not win.sync.running


def answer_name_dialog(qtbot, name: str, asked: list[str]) -> None:  # type: ignore[no-untyped-def]
    """When the name dialog shows, type ``name`` into it and press Enter, as a person would."""

    def type_it() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QInputDialog):
            QTimer.singleShot(20, type_it)
            return
        asked.append(dialog.labelText())
        field = dialog.findChild(QLineEdit)
        assert field is not None
        field.selectAll()
        qtbot.keyClicks(field, name)
        qtbot.keyClick(field, Qt.Key.Key_Return)

    QTimer.singleShot(0, type_it)


def commit_via_editor(qtbot, win: MainWindow, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    editor = win.editor.message_editors[-1].text
    editor.selectAll()
    editor.insertPlainText(text)
    qtbot.keyClicks(win.editor.commit_bar.message, message)
    win.editor.refresh()
    with qtbot.waitSignal(win.editor.committed, timeout=10_000):
        qtbot.mouseClick(win.editor.commit_bar.button, Qt.MouseButton.LeftButton)


def test_first_commit_asks_the_name_once_and_sync_renames_drafts(
    qtbot, tmp_path: Path, make_window, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("WORKBENCH_AUTHOR", raising=False)
    settings_db = RegistrySettings(db_url=f"sqlite:///{tmp_path / 'reg.sqlite3'}")
    with running_registry(settings_db) as registry:
        vault = Vault.open(tmp_path / "mine.sqlite3", create=True)  # no name given
        saved: list[Settings] = []
        win = make_window(vault, Settings(), saved)
        win.new_prompt("support/reply")
        asked: list[str] = []
        answer_name_dialog(qtbot, "Ada Lovelace", asked)
        commit_via_editor(qtbot, win, "Hello {{ name }}", "first")
        assert len(asked) == 1 and "name" in asked[0]
        assert saved[-1].author == "Ada Lovelace"
        commit_via_editor(qtbot, win, "Hi {{ name }}", "second")  # not asked again
        assert len(asked) == 1
        history = vault.history("support/reply")
        assert [v.author for v in history] == ["Ada Lovelace", "Ada Lovelace"]
        shown = [win.history.model.index(r, 0).data() for r in range(2)]
        assert shown == [f"draft {n} ({history[n - 1].id.hex[:6]})" for n in (2, 1)]

        # Now the person signs in: the window's sync pushes the drafts, the registry
        # names them v1, v2 (authored by the token's user), History follows by itself.
        win.settings = Settings(registry_url=registry.url, author="Ada Lovelace")
        win.sync.reset_identity()
        token = registry.tokens["alice"]
        win.secrets().set(token_key_name(registry.url), token)
        with qtbot.waitSignal(win.sync.finished, timeout=10_000):
            win.sync_now()
        assert win.sync.last is not None and win.sync.last.state == "synced"
        qtbot.waitUntil(lambda: win.history.model.index(0, 0).data() == "v2", timeout=5_000)
        assert win.history.model.index(1, 0).data() == "v1"
        assert win.history.model.index(0, 1).data() == "alice"
        assert vault.actor == "alice"  # the registry login commits from now on
        vault.close()


def test_registry_label_in_history_filter_and_offline_publish(
    qtbot, tmp_path: Path, make_window
) -> None:  # type: ignore[no-untyped-def]
    settings_db = RegistrySettings(db_url=f"sqlite:///{tmp_path / 'reg.sqlite3'}")
    with running_registry(settings_db) as registry:
        with Vault.open(tmp_path / "alice.sqlite3", create=True, actor="alice") as alice:
            v1 = alice.commit("support/reply", content("Hello {{ name }}"), "first")
            v2 = alice.commit("support/reply", content("Hi {{ name }}"), "second")
            Syncer(alice, registry.client("alice")).sync()
        with Vault.open(tmp_path / "bob.sqlite3", create=True, actor="bob") as bob:
            Syncer(bob, registry.client("bob")).sync()
            queue_review(bob, bob.version_by_id(v2.id), "approve", "good")
            Syncer(bob, registry.client("bob")).sync()
        with registry.client("carol") as carol:
            publish(carol, alice.version_by_id(v2.id), "production", expected=None, reason="go")
        vault = Vault.open(tmp_path / "carol.sqlite3", create=True, actor="carol")
        win = make_window(
            vault, Settings(registry_url=registry.url), [], registry.tokens["carol"]
        )  # the window's first round pulls the versions and the label
        assert win.sync.last is not None and win.sync.last.state == "synced"
        win.show_prompt("support/reply")
        model = win.history.model
        labels = {model.index(r, 0).data(): model.index(r, 4).data() for r in range(2)}
        assert labels == {"v2": "production", "v1": ""}
        win.browser.label_filter.setFocus()
        qtbot.keyClicks(win.browser.label_filter, "production")
        qtbot.waitUntil(lambda: win.browser.model.names() == ["support/reply"], timeout=5_000)
        url = registry.url

    # The registry is gone: the dialog shows the vault's mirror, and cannot publish.
    dialog = win.open_publish("support/reply")
    assert isinstance(dialog, PublishDialog)
    qtbot.waitUntil(lambda: dialog.context is not None, timeout=15_000)
    text = dialog.current_label.text()
    assert "Offline" in text
    assert "as of the last sync" in text and "<b>v2</b>" in text
    assert "no version" not in dialog.diff.toPlainText()
    assert dialog.history.rowCount() == 1
    assert [dialog.history.item(0, c).text() for c in (1, 2, 3, 4)] == [  # type: ignore[union-attr]
        "carol", "production", "v2", "go",
    ]  # fmt: skip
    dialog.version_box.setCurrentIndex(dialog.version_box.findData(str(v1.id)))
    qtbot.keyClicks(dialog.reason, "roll back")
    assert not dialog.publish_button.isEnabled()
    assert url
    dialog.wait_threads()
    dialog.close()
    vault.close()
