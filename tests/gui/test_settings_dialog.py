"""The settings dialog, driven as a person would: widgets found by their visible text,
typed into and clicked with QTest, against the local provider server.

- Profiles: the models a server lists reach Compare without typing them; a server
  that cannot list says why, and typed names still count.
- "Add profile" / "Update profile" keep the list's order and selection; "New profile" starts blank.
- Keys and the registry token reach the keychain only when the dialog is saved.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QLineEdit,
)

from tests.gui.people import (
    button,
    click,
    click_profile,
    click_tab,
    field,
    in_settings,
    names_in,
    profile_list,
    type_into,
)
from tests.providerserver.server import DEFAULT_KEY, ProviderServer
from workbench.app.models import ModelCache
from workbench.secrets.store import MemoryStore
from workbench.settings import Settings, save_settings
from workbench.ui.errors import ErrorReporter
from workbench.ui.main_window import MainWindow
from workbench.ui.settings_dialog import SettingsDialog

LISTED = ("alpha-large", "beta-mini", "gamma-7b")


class RecordingStore(MemoryStore):
    """A real in-memory secret store that also remembers every write it was asked for."""

    def __init__(self, initial: dict[str, str] | None = None) -> None:
        self.writes: list[str] = []
        super().__init__(initial)

    def set(self, name: str, value: str) -> None:
        self.writes.append(name)
        super().set(name, value)


@pytest.fixture
def listing_server() -> Iterator[ProviderServer]:
    with ProviderServer(models=LISTED) as srv:
        yield srv


def status(dialog: SettingsDialog) -> str:
    label = dialog.findChild(QLabel, "profileStatus")
    assert label is not None
    return label.text()


@pytest.fixture
def settings_window(make_window, tmp_path: Path):  # type: ignore[no-untyped-def]
    store = RecordingStore()
    return make_window(Settings(), store), store, tmp_path / "settings.json"


def compare_models(win: MainWindow) -> list[str]:
    lst = win.compare.setup.models_list
    return [str(lst.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(lst.count())]


# ---- models reach Compare ------------------------------------------------------------


def test_listed_models_reach_compare_without_typing_them(
    qtbot, settings_window, listing_server: ProviderServer, data_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    win, store, path = settings_window
    assert not [m for m in compare_models(win) if m.startswith("local:")]

    def steps(dialog: SettingsDialog) -> None:
        models_field = field(dialog, "Models")
        assert isinstance(models_field, QLineEdit)
        assert "listed models are added automatically" in models_field.placeholderText()
        type_into(dialog, "Name", "local")
        type_into(dialog, "Base URL", listing_server.base_url("openai"))
        type_into(dialog, "Key name", "local-key")
        type_into(dialog, "API key", DEFAULT_KEY)
        click(dialog, "Test connection")
        qtbot.waitUntil(lambda: "✔ Connected" in status(dialog), timeout=10_000)
        assert "3 models" in status(dialog)
        assert store.writes == []  # testing is not saving
        click(dialog, "Add profile")
        click(dialog, "Save")

    in_settings(qtbot, win, steps)

    assert compare_models(win) == [
        "echo:echo",
        "local:alpha-large",
        "local:beta-mini",
        "local:gamma-7b",
    ]
    assert store.get("local-key") == DEFAULT_KEY
    saved = path.read_text()
    assert DEFAULT_KEY not in saved
    assert json.loads(saved)["providers"][0]["models"] == []  # nothing typed
    cached = json.loads((data_dir / "model-lists" / "local.json").read_text())
    assert cached["models"] == list(LISTED)
    qtbot.waitUntil(lambda: not win.model_lists.running, timeout=10_000)


def test_saving_a_profile_lists_its_models_in_the_background(
    qtbot, settings_window, listing_server: ProviderServer
) -> None:  # type: ignore[no-untyped-def]
    """No "Test connection": Save alone (the form is taken without "Add profile")."""
    win, store, _path = settings_window

    def steps(dialog: SettingsDialog) -> None:
        type_into(dialog, "Name", "local")
        type_into(dialog, "Base URL", listing_server.base_url("openai"))
        type_into(dialog, "Key name", "local-key")
        type_into(dialog, "API key", DEFAULT_KEY)
        click(dialog, "Save")

    with qtbot.waitSignal(win.model_lists.changed, timeout=10_000):
        in_settings(qtbot, win, steps)
    assert "local:gamma-7b" in compare_models(win)
    assert store.get("local-key") == DEFAULT_KEY


def test_a_server_that_cannot_list_shows_why_and_typed_names_still_count(
    qtbot, settings_window, listing_server: ProviderServer
) -> None:  # type: ignore[no-untyped-def]
    win, _store, _path = settings_window
    no_listing = listing_server.url + "/no-such-api/v1"

    def steps(dialog: SettingsDialog) -> None:
        type_into(dialog, "Name", "bare")
        type_into(dialog, "Base URL", no_listing)
        type_into(dialog, "Models", "by-hand-1, by-hand-2")
        click(dialog, "Test connection")
        qtbot.waitUntil(lambda: "✘" in status(dialog), timeout=10_000)
        assert "could not list its models" in status(dialog)
        assert "has no model list" in status(dialog)
        assert "typed under Models are offered" in status(dialog)
        click(dialog, "Add profile")
        click(dialog, "Save")

    in_settings(qtbot, win, steps)
    assert compare_models(win) == ["echo:echo", "bare:by-hand-1", "bare:by-hand-2"]

    def reopened(dialog: SettingsDialog) -> None:
        click_profile(dialog, "bare")
        assert "has no model list" in status(dialog)  # the reason, read back from the cache
        click(dialog, "Cancel")

    in_settings(qtbot, win, reopened)
    qtbot.waitUntil(lambda: not win.model_lists.running, timeout=10_000)


def test_profiles_never_listed_are_listed_at_start_and_refresh_asks_again(
    qtbot, make_window, listing_server: ProviderServer
) -> None:  # type: ignore[no-untyped-def]
    """A profile added with the CLI has no list yet: the window asks for it by itself;
    "Refresh models" in Compare asks every server again."""
    settings = Settings(
        providers=[
            {
                "name": "cli",
                "family": "openai",
                "base_url": listing_server.base_url("openai"),
                "key_name": "cli-key",
            }
        ]
    )
    store = RecordingStore({"cli-key": DEFAULT_KEY})
    win = make_window(settings, store)
    qtbot.waitUntil(lambda: "cli:beta-mini" in compare_models(win), timeout=10_000)

    listing_server.models.append("delta-new")
    assert "cli:delta-new" not in compare_models(win)
    win.tabs.setCurrentWidget(win.compare)
    with qtbot.waitSignal(win.model_lists.changed, timeout=10_000):
        click(win.compare, "Refresh models")
    assert "cli:delta-new" in compare_models(win)
    assert "cli: 4 models" in win.statusBar().currentMessage()


# ---- profile list behaviour ----------------------------------------------------------


def _three(base_url: str) -> Settings:
    def raw(name: str, **extra: object) -> dict[str, object]:
        return {"name": name, "family": "openai", "base_url": base_url, **extra}

    return Settings(
        providers=[
            raw("a", models=["ma"]),
            raw(
                "b",
                models=["mb"],
                key_env="B_KEY",
                prices={"mb": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}},
            ),
            raw("c", models=["mc"]),
        ]
    )


def _dialog(qtbot, settings: Settings, store: MemoryStore, tmp_path: Path) -> SettingsDialog:  # type: ignore[no-untyped-def]
    dialog = SettingsDialog(
        settings, lambda: store, ErrorReporter(None), model_cache=ModelCache(tmp_path / "lists")
    )
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def test_save_profile_keeps_the_order_and_the_selection(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot, _three("http://127.0.0.1:9/v1"), MemoryStore(), tmp_path)
    lst = profile_list(dialog)
    click_profile(dialog, "b")
    assert field(dialog, "Name").text() == "b"  # type: ignore[attr-defined]
    type_into(dialog, "Models", "mb, mb-2")
    click(dialog, "Update profile")

    assert names_in(lst) == ["a", "b", "c"]
    assert lst.currentItem().text() == "b"
    assert field(dialog, "Models").text() == "mb, mb-2"  # type: ignore[attr-defined]
    # The next click hits the profile under the mouse.
    click_profile(dialog, "c")
    assert field(dialog, "Name").text() == "c"  # type: ignore[attr-defined]

    # A rename keeps the place; fields the form does not show are kept.
    click_profile(dialog, "b")
    type_into(dialog, "Name", "b2")
    click(dialog, "Update profile")
    assert names_in(lst) == ["a", "b2", "c"]
    assert lst.currentItem().text() == "b2"
    settings = dialog.result_settings()
    b2 = settings.providers[1]
    assert b2["name"] == "b2" and b2["models"] == ["mb", "mb-2"]
    assert b2["key_env"] == "B_KEY"
    assert b2["prices"]["mb"]["output_per_mtok"] == 2.0


def test_a_name_in_use_is_refused_not_overwritten(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot, _three("http://127.0.0.1:9/v1"), MemoryStore(), tmp_path)
    reported: list[BaseException] = []
    dialog.reporter.report = lambda exc, doing="": reported.append(exc)  # type: ignore[method-assign]
    click(dialog, "New profile")
    type_into(dialog, "Name", "a")
    click(dialog, "Add profile")
    assert reported and "already a profile named 'a'" in str(reported[0])
    assert [p["models"] for p in dialog.settings.providers] == [["ma"], ["mb"], ["mc"]]


def test_new_profile_starts_blank(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot, _three("http://127.0.0.1:9/v1"), MemoryStore(), tmp_path)
    click_profile(dialog, "a")
    type_into(dialog, "API key", "sk-" + "half-typed-key-000000001")
    click(dialog, "New profile")
    for label in ("Name", "Base URL", "Key name", "API key", "Models"):
        edit = field(dialog, label)
        assert isinstance(edit, QLineEdit)
        assert edit.text() == "", label
    key = field(dialog, "API key")
    assert isinstance(key, QLineEdit)
    assert key.placeholderText() == "type to store a new key (never shown again)"
    assert status(dialog) == ""
    assert profile_list(dialog).currentItem() is None
    # Clicking the profile that was shown before shows it again.
    click_profile(dialog, "a")
    assert field(dialog, "Name").text() == "a"  # type: ignore[attr-defined]


# ---- keys reach the keychain on Save only --------------------------------------------


def test_cancel_never_writes_a_key_or_a_token(
    qtbot, tmp_path: Path, listing_server: ProviderServer
) -> None:  # type: ignore[no-untyped-def]
    store = RecordingStore()
    dialog = _dialog(qtbot, Settings(), store, tmp_path)
    type_into(dialog, "Name", "local")
    type_into(dialog, "Base URL", listing_server.base_url("openai"))
    type_into(dialog, "Key name", "local-key")
    type_into(dialog, "API key", DEFAULT_KEY)
    click(dialog, "Add profile")
    key = field(dialog, "API key")
    assert isinstance(key, QLineEdit)
    assert key.text() == ""  # typed once, never shown again
    assert "when you press Save" in key.placeholderText()
    click(dialog, "Test connection")  # uses the key held for Save
    qtbot.waitUntil(lambda: "✔ Connected" in status(dialog), timeout=10_000)
    dialog.tabs.setCurrentIndex(1)  # Registry
    type_into(dialog, "Registry URL", "http://127.0.0.1:9")
    type_into(dialog, "Token", "wbr_" + "typed-but-cancelled-0001")
    click(dialog, "Cancel")

    assert store.writes == []
    assert store.names() == []
    assert not (tmp_path / "lists").exists()  # the listing was not kept either


def test_save_writes_the_key_once_and_never_into_the_settings(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = RecordingStore()
    dialog = _dialog(qtbot, Settings(), store, tmp_path)
    type_into(dialog, "Name", "work")
    family = field(dialog, "Family")
    family.setCurrentText("anthropic")  # type: ignore[attr-defined]
    type_into(dialog, "Key name", "anthropic-work")
    key = "sk-" + "secret-value-for-the-test-0001"  # split: no key-shaped literal
    type_into(dialog, "API key", key)
    type_into(dialog, "Models", "claude-3-5-haiku-latest")
    click(dialog, "Add profile")
    assert store.writes == []
    dialog.general.g_budgets["per_day_usd"].setValue(5)
    click(dialog, "Save")

    assert dialog.result() == QDialog.DialogCode.Accepted
    assert store.writes == ["anthropic-work"]
    assert store.get("anthropic-work") == key
    settings = dialog.settings
    assert [p["name"] for p in settings.providers] == ["work"]
    assert settings.budgets.per_day_usd == 5
    assert settings.budgets.per_run_usd is None  # 0 means "no cap"
    path = tmp_path / "settings.json"
    save_settings(settings, path)
    text = path.read_text()
    assert "anthropic-work" in text
    assert "secret-value" not in text
    assert json.loads(text)["providers"][0]["family"] == "anthropic"


def test_a_key_without_a_name_is_refused(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = RecordingStore()
    dialog = _dialog(qtbot, Settings(), store, tmp_path)
    reported: list[BaseException] = []
    dialog.reporter.report = lambda exc, doing="": reported.append(exc)  # type: ignore[method-assign]
    type_into(dialog, "Name", "work")
    type_into(dialog, "API key", "sk-" + "another-secret-value-000002")
    click(dialog, "Add profile")
    assert reported
    assert "key name" in str(reported[0])
    click(dialog, "Save")  # the form still holds the refused key: Save refuses it too
    assert dialog.isVisible()
    assert store.writes == []


def test_the_opentelemetry_endpoint_is_typed_checked_and_kept(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dialog = _dialog(qtbot, Settings(), RecordingStore(), tmp_path)
    click_tab(dialog, "General")
    box = field(dialog, "OpenTelemetry")
    assert box.text() == "" and "off" in box.placeholderText()  # type: ignore[attr-defined]
    type_into(dialog, "OpenTelemetry", "localhost:4318")
    click(dialog, "Save")
    assert dialog.result() != QDialog.DialogCode.Accepted  # refused, saying why
    type_into(dialog, "OpenTelemetry", "http://localhost:4318/v1/traces")
    click(dialog, "Save")
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.settings.otel_endpoint == "http://localhost:4318/v1/traces"


def test_one_save_and_a_profile_button_named_for_what_it_does(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A person sees one Save (the dialog's, it writes everything); the profile form's
    button says it adds or updates the profile in the list, not "Save" a second time."""
    from PySide6.QtWidgets import QAbstractButton

    dialog = _dialog(qtbot, _three("http://127.0.0.1:9/v1"), MemoryStore(), tmp_path)
    shown = [b.text() for b in dialog.findChildren(QAbstractButton) if b.isVisible()]
    assert [t for t in shown if "save" in t.lower()] == ["Save"], shown
    click_profile(dialog, "a")
    assert "Update profile" in shown or button(dialog, "Update profile").isVisible()
    click(dialog, "New profile")
    assert button(dialog, "Add profile").isVisible()
    assert "Save" in button(dialog, "Add profile").toolTip()  # says where writing happens
