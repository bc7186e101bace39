"""The settings dialog: a key goes to the keychain once and never into the settings."""

from __future__ import annotations

import json

from workbench.secrets.store import MemoryStore
from workbench.settings import Settings, save_settings
from workbench.ui.errors import ErrorReporter


def test_profile_key_and_budgets(qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from workbench.ui.settings_dialog import SettingsDialog

    store = MemoryStore()
    reporter = ErrorReporter(None)
    dialog = SettingsDialog(Settings(), lambda: store, reporter)
    qtbot.addWidget(dialog)
    dialog.f_name.setText("work")
    dialog.f_family.setCurrentText("anthropic")
    dialog.f_key_name.setText("anthropic-work")
    key = "sk-" + "secret-value-for-the-test-0001"  # split: no key-shaped literal
    dialog.f_key.setText(key)
    dialog.f_models.setText("claude-3-5-haiku-latest")
    dialog.save_profile_button.click()
    assert store.get("anthropic-work") == key
    assert dialog.f_key.text() == ""  # typed once, never shown again
    dialog.g_budgets["per_day_usd"].setValue(5)
    settings = dialog.result_settings()
    assert [p["name"] for p in settings.providers] == ["work"]
    assert settings.budgets.per_day_usd == 5
    assert settings.budgets.per_run_usd is None  # 0 means "no cap"
    path = tmp_path / "settings.json"
    save_settings(settings, path)
    text = path.read_text()
    assert "anthropic-work" in text
    assert "secret-value" not in text
    assert json.loads(text)["providers"][0]["family"] == "anthropic"


def test_a_key_without_a_name_is_refused(qtbot) -> None:  # type: ignore[no-untyped-def]
    from workbench.ui.settings_dialog import SettingsDialog

    store = MemoryStore()
    reporter = ErrorReporter(None)
    reported: list[BaseException] = []
    reporter.report = lambda exc, what="": reported.append(exc)  # type: ignore[method-assign]
    dialog = SettingsDialog(Settings(), lambda: store, reporter)
    qtbot.addWidget(dialog)
    dialog.f_name.setText("work")
    dialog.f_key.setText("sk-" + "another-secret-value-000002")
    dialog.save_profile_button.click()
    assert reported
    assert "key name" in str(reported[0])
    assert store.names() == []
