"""Money and memory in Compare, driven as a person would (issue 9, items 13 and 20).

- A model with no price is said everywhere a total is shown ("spent", row totals, the
  pre-run line), never left out silently; a price typed in Settings → Providers →
  Prices reaches the estimate and the cells of the next run.
- What was ticked in Compare (models, each prompt's versions, repeats) is there again
  after a restart, so Ctrl+R runs the models chosen last time, not the defaults.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit

from tests.gui.conftest import KEY_ENV, engine_warm, two_versions
from tests.gui.people import (
    activate,
    click,
    click_profile,
    click_tab,
    field,
    in_settings,
    tick,
    type_into,
)
from tests.providerserver.server import ProviderServer
from workbench.core.runs import TestCase
from workbench.providers.profiles import ProviderProfile
from workbench.secrets.store import MemoryStore
from workbench.settings import Settings
from workbench.ui.main_window import MainWindow
from workbench.ui.settings_dialog import SettingsDialog
from workbench.vault import Vault


def _prompt(vault: Vault) -> None:
    two_versions(vault)
    vault.set_test_cases("support/reply", [TestCase(name="refund", values={"question": "Where?"})])


def _settings(server: ProviderServer) -> Settings:
    local = ProviderProfile(
        name="local", family="openai", base_url=server.base_url("openai"), key_env=KEY_ENV,
        models=("test-model", "test-model-2"),
    )  # fmt: skip
    return Settings(providers=[local.model_dump(mode="json")], default_models=["echo:echo"])


def _open_compare(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    win.resize(1440, 900)
    win.browser.reload()
    win.browser.select("support/reply")
    click_tab(win, "Compare")
    QApplication.processEvents()


def _checked(lst) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        lst.item(i).text().split("  ")[0]
        for i in range(lst.count())
        if lst.item(i).checkState() == Qt.CheckState.Checked
    ]


def test_unpriced_calls_are_said_and_a_price_set_in_settings_counts(
    qtbot, make_window, vault: Vault, server: ProviderServer
) -> None:  # type: ignore[no-untyped-def]
    _prompt(vault)
    win = make_window(_settings(server), MemoryStore())
    _open_compare(qtbot, win)
    compare = win.compare
    tick(compare.setup.models_list, "local:test-model")
    qtbot.waitUntil(lambda: "unpriced: local:test-model" in compare.status.text(), timeout=5000)
    assert "Settings → Providers → Prices" in compare.status.text()  # where to fix it

    # Run: the spent line and the row totals count the unpriced calls, not "$0".
    engine_warm(qtbot, win)
    with qtbot.waitSignal(compare.run_finished, timeout=20_000):
        QTest.mouseClick(compare.setup.run_button, Qt.MouseButton.LeftButton)
    status = compare.status.text()
    assert "Finished" in status and "2 calls unpriced" in status, status
    model = compare.grid_model
    row_total = model.index(0, model.columnCount() - 1).data(Qt.ItemDataRole.DisplayRole)
    assert "cost ≥ $0, 2 calls unpriced" in str(row_total), row_total  # not "unknown"

    # A price typed in Settings: the estimate has no unpriced calls any more.
    def steps(dialog: SettingsDialog) -> None:
        click_profile(dialog, "local")
        type_into(dialog, "Prices", "test-model=1000,2000; other=0.5,1")
        click(dialog, "Update profile")
        click(dialog, "Save")

    in_settings(qtbot, win, steps)
    assert "test-model" in win.settings.providers[0]["prices"]
    qtbot.waitUntil(lambda: "unpriced" not in compare.status.text(), timeout=5000)
    assert compare.status.text().startswith("4 calls, ≈ $"), compare.status.text()

    with qtbot.waitSignal(compare.run_finished, timeout=20_000) as done:
        QTest.mouseClick(compare.setup.run_button, Qt.MouseButton.LeftButton)
    run = done.args[0]
    priced = [c for c in run.cells if c.key.model.model == "test-model"]
    assert priced and all(c.cost_usd and c.cost_usd > 0 for c in priced)
    assert {c.price_source for c in priced} == {"profile local override"}
    assert "unpriced" not in compare.status.text()

    # The dialog shows the prices back as typed; a bad one is refused, saying how.
    said: list[str] = []

    def reopened(dialog: SettingsDialog) -> None:
        click_profile(dialog, "local")
        prices = field(dialog, "Prices")
        assert isinstance(prices, QLineEdit)
        assert prices.text() == "other=0.5,1; test-model=1000,2000"
        dialog.reporter.shown.connect(lambda _title, text: said.append(text))
        type_into(dialog, "Prices", "test-model=cheap")
        click(dialog, "Update profile")
        assert dialog.reporter.last_dialog is not None
        dialog.reporter.last_dialog.close()
        click(dialog, "Cancel")

    activate(qtbot, win)  # the closed dialog left no window active
    in_settings(qtbot, win, reopened)
    assert len(said) == 1 and "MODEL=INPUT,OUTPUT in USD per million tokens" in said[0], said
    assert win.settings.providers[0]["prices"]["test-model"]["input_per_mtok"] == 1000


def test_compare_choices_are_there_again_after_a_restart(
    qtbot, make_window, vault: Vault, server: ProviderServer
) -> None:  # type: ignore[no-untyped-def]
    _prompt(vault)
    settings = _settings(server)
    win = make_window(settings, MemoryStore())
    _open_compare(qtbot, win)
    compare = win.compare
    assert _checked(compare.setup.models_list) == ["echo:echo"]  # the default, first time
    newest, older = _checked(compare.setup.versions_list)
    tick(compare.setup.models_list, "local:test-model-2")
    tick(compare.setup.models_list, "echo:echo", on=False)
    tick(compare.setup.versions_list, newest, on=False)
    compare.setup.repeats.setFocus()
    compare.setup.repeats.selectAll()
    QTest.keyClicks(compare.setup.repeats, "2")
    win.close()

    again = make_window(settings, MemoryStore())
    _open_compare(qtbot, again)
    compare = again.compare
    assert _checked(compare.setup.models_list) == ["local:test-model-2"]
    assert _checked(compare.setup.versions_list) == [older]
    assert compare.setup.repeats.value() == 2
    engine_warm(qtbot, again)
    with qtbot.waitSignal(compare.run_finished, timeout=20_000) as done:
        QTest.keySequence(again, "Ctrl+R")
    spec = done.args[0].spec
    assert [str(m) for m in spec.models] == ["local:test-model-2"]
    assert len(spec.version_ids) == 1 and spec.repeats == 2
