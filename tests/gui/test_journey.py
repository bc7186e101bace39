"""A first-time prompt author's journey through the window, as a person makes it.

Empty vault → the empty state's "Load sample prompts" → Settings (Ctrl+,): a provider
profile for the local provider server (its three listed models reach Compare without
typing them) and the team registry → a third version typed in the editor and
committed with Ctrl+S → a 3 versions x 3 models x 3 cases run in the engine's own
process (as the app runs it, reading the key from a private keychain) → every
readout whole, the chart's tick labels apart → a second run cancelled mid-way leaves
no cell "streaming…"/"waiting…" → published to production as a publisher (Ctrl+Shift+P)
→ History shows the label. At 1440x900 and 1024x700.

Widgets are found by their visible text or accessible name and driven with QTest
mouse and key events; the only things done outside the window are what other people
do (a reviewer approves the version) and the test's own scripting of the servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QLabel

from tests.gui.conftest import ENGINE_READY_MS, engine_processes
from tests.gui.people import (
    activate,
    button,
    check_item,
    click,
    click_at,
    click_tab,
    field,
    field_with_placeholder,
    in_settings,
    text_edit_showing,
    tick,
    type_into,
)
from tests.providerserver.server import DEFAULT_KEY, ProviderServer
from tests.server.conftest import RunningRegistry, running_registry
from workbench.app.services import make_engine, profiles_from
from workbench.registry.review import queue_review
from workbench.registry.server.config import RegistrySettings
from workbench.registry.sync import Syncer
from workbench.secrets import KeyringStore
from workbench.settings import Settings
from workbench.ui.cell_view import PAD_X
from workbench.ui.engine_launch import EngineProcess, give_engine
from workbench.ui.grid import CELL_ROLE
from workbench.ui.main_window import MainWindow
from workbench.ui.publish import PublishDialog
from workbench.ui.settings_dialog import SettingsDialog
from workbench.vault import Vault

pytestmark = pytest.mark.gui

LISTED = ("alpha-large", "beta-mini", "gamma-7b")
MODELS = [f"local:{m}" for m in LISTED]
PROMPT = "support/reply"  # in the sample bundle: 2 versions, 3 test cases


@pytest.fixture
def listing_server() -> Iterator[ProviderServer]:
    with ProviderServer(models=LISTED) as srv:
        yield srv


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    with running_registry(RegistrySettings(db_url=f"sqlite:///{tmp_path / 'reg.sqlite3'}")) as reg:
        yield reg


@pytest.fixture
def journey_window(qtbot, tmp_path: Path, data_dir: Path, secret_service: KeyringStore):  # type: ignore[no-untyped-def]
    """The window as the app builds it, on an empty vault: settings saved to a file in
    tmp_path, keys in a private keychain, the engine in its kept-warm child process
    (which reads the key from that keychain itself)."""
    vault = Vault.open(tmp_path / "vault.sqlite3", create=True)
    saved = tmp_path / "settings.json"
    state = {"settings": Settings()}

    def save(new: Settings) -> None:
        saved.write_text(new.model_dump_json())
        state["settings"] = new

    win = MainWindow(
        vault,
        state["settings"],
        engine_factory=lambda: make_engine(vault, state["settings"], secret_service),
        profiles=lambda: profiles_from(state["settings"]),
        secrets=lambda: secret_service,
        data_dir=data_dir,
        save_settings=save,
        qsettings=QSettings(str(tmp_path / "layout.ini"), QSettings.Format.IniFormat),
        sync_interval_s=0,
    )
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.controller.engine_ready, timeout=ENGINE_READY_MS):
        give_engine(  # as workbench.ui.app does
            win,
            EngineProcess(vault.path, lambda: profiles_from(state["settings"]), actor=vault.actor),
        )
    yield win, saved
    qtbot.waitUntil(lambda: not win.model_lists.running, timeout=10_000)
    win.close()
    qtbot.waitUntil(lambda: not win.sync.running, timeout=10_000)
    vault.close()


def settle(qtbot) -> None:  # type: ignore[no-untyped-def]
    QApplication.processEvents()
    qtbot.wait(0)


def assert_every_readout_whole(compare) -> int:  # type: ignore[no-untyped-def]
    """Each line the delegate draws fits its cell: no number is cut or elided."""
    grid, model, delegate = compare.grid, compare.grid_model, compare.delegate
    checked = 0
    for row in range(model.rowCount()):
        for col in range(model.columnCount()):
            index = model.index(row, col)
            room = grid.visualRect(index).width() - 2 * PAD_X
            for text, font, _color in delegate.readout(index):
                need = QFontMetrics(font).horizontalAdvance(text)
                assert need <= room, f"{text!r} needs {need} px, its cell has {room}"
                assert "…" not in text or text in ("waiting…", "streaming…"), text
                checked += 1
    return checked


def assert_tick_labels_apart(figure) -> int:  # type: ignore[no-untyped-def]
    """No two tick labels of the chart overlap (matplotlib's own text extents)."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    boxes = []
    for ax in figure.axes:
        if not (ax.get_visible() and ax.axison):
            continue
        for axis, coord in ((ax.xaxis, 0), (ax.yaxis, 1)):
            low, high = sorted(axis.get_view_interval())
            slack = (high - low) * 1e-9
            # Ticks outside the view interval have labels too, but are not drawn.
            for label in axis.get_majorticklabels():
                at = label.get_position()[coord]
                drawn = low - slack <= at <= high + slack
                if drawn and label.get_visible() and label.get_text().strip():
                    boxes.append((label.get_text(), label.get_window_extent(renderer)))
    assert boxes, "the chart has no tick labels"
    for (ta, a), (tb, b) in combinations(boxes, 2):
        assert not a.overlaps(b), f"tick labels {ta!r} and {tb!r} overlap: {a} / {b}"
    return len(boxes)


def profile_status(dialog: SettingsDialog) -> str:
    label = dialog.findChild(QLabel, "profileStatus")
    assert label is not None
    return label.text()


def shown_texts(compare) -> list[str]:  # type: ignore[no-untyped-def]
    model = compare.grid_model
    return [
        str(model.index(r, c).data() or "")
        for r in range(model.rowCount())
        for c in range(model.columnCount())
    ]


@pytest.mark.parametrize("size", [(1440, 900), (1024, 700)], ids=["1440x900", "1024x700"])
def test_first_time_author_compares_publishes_and_sees_the_label(  # type: ignore[no-untyped-def]
    qtbot,
    journey_window,
    listing_server: ProviderServer,
    registry: RunningRegistry,
    tmp_path: Path,
    size: tuple[int, int],
) -> None:
    win, saved = journey_window
    win.resize(*size)
    with qtbot.waitExposed(win):
        win.show()
    assert win.browser.model.names() == []

    # 1. The empty state offers the samples.
    with qtbot.waitSignal(win.bundle_imported, timeout=60_000):
        click(win.browser, "Load sample prompts")  # the tree's empty state
    assert PROMPT in win.browser.model.names()

    # 2. Settings: a profile for the provider server (tested: it lists 3 models), then
    #    the team registry with carol's (a publisher's) token.
    def steps(dialog: SettingsDialog) -> None:
        type_into(dialog, "Name", "local")
        type_into(dialog, "Base URL", listing_server.base_url("openai"))
        type_into(dialog, "Key name", "local-key")
        type_into(dialog, "API key", DEFAULT_KEY)
        click(dialog, "Test connection")
        qtbot.waitUntil(lambda: "✔ Connected" in profile_status(dialog), timeout=10_000)
        assert "3 models" in profile_status(dialog)
        click(dialog, "Add profile")
        click_tab(dialog, "Registry")
        type_into(dialog, "Registry URL", registry.url)
        type_into(dialog, "Token", registry.tokens["carol"])
        click(dialog, "Test connection")
        qtbot.waitUntil(lambda: "✔" in dialog.registry.r_status.text(), timeout=10_000)
        assert "carol (publisher)" in dialog.registry.r_status.text()
        click(dialog, "Save")

    in_settings(qtbot, win, steps)
    assert DEFAULT_KEY not in saved.read_text()  # the key went to the keychain only
    assert registry.tokens["carol"] not in saved.read_text()
    qtbot.waitUntil(lambda: not win.sync.running, timeout=10_000)  # Save started a round

    activate(qtbot, win)

    # 3. Open the prompt and add a third version in the editor: type, message, Ctrl+S.
    click_at(win.browser.tree, win.browser.model.index_of(PROMPT))
    click_tab(win, "Editor")
    settle(qtbot)  # new message cards show once queued events run
    system = text_edit_showing(win, "Answer the customer in at most three sentences.")
    system.setFocus()
    QTest.keyClick(system, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(system, Qt.Key.Key_Return)
    QTest.keyClicks(system, "Thank the customer by name.")
    message = field_with_placeholder(win, "Commit message")
    message.setFocus()
    QTest.keyClicks(message, "thank by name")
    # The editor checks the edit after a short pause, then offers Commit.
    qtbot.waitUntil(lambda: button(win, "Commit").isEnabled(), timeout=5_000)
    with qtbot.waitSignal(win.editor.committed, timeout=10_000) as committed:
        QTest.keyClick(message, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    third = committed.args[0]
    assert third.author == "carol"  # the registry login, not asked
    assert len(win.vault.history(PROMPT)) == 3

    # 4. Compare: the listed models are offered without typing them.
    click_tab(win, "Compare")
    compare = win.compare
    offered = [
        compare.setup.models_list.item(i).text() for i in range(compare.setup.models_list.count())
    ]
    for model in MODELS:
        assert model in offered, offered
    for row in range(compare.setup.versions_list.count()):
        tick(compare.setup.versions_list, compare.setup.versions_list.item(row).text())
    tick(compare.setup.models_list, "echo:echo", on=False)
    for model in MODELS:
        tick(compare.setup.models_list, model)
    for case in ("refund", "login", "cancel"):
        assert check_item(compare.setup.cases_list, case).checkState() == Qt.CheckState.Checked
    qtbot.waitUntil(lambda: "27 calls" in compare.status.text(), timeout=5_000)

    # 5. The 3 x 3 x 3 run, in the engine's process.
    listing_server.script("alpha-large", chunks=3, input_tokens=123_456, output_tokens=65_432)
    listing_server.script("beta-mini", chunks=2)
    listing_server.script("gamma-7b", chunks=1, output_tokens=9_999)
    with qtbot.waitSignal(compare.run_finished, timeout=30_000) as done:
        click(win, "Run comparison")
    run = done.args[0]
    assert run.status == "finished" and len(run.cells) == 27
    assert win.controller.child_pid() in engine_processes()  # the app's way: a child process
    assert {r.model for r in listing_server.requests if r.method == "POST"} == set(LISTED)
    settle(qtbot)
    grid = compare.grid_model
    assert (grid.rowCount() >= 3, len(grid.columns)) == (True, 9)
    assert all(grid.index(r, c).data(CELL_ROLE) is not None for r in range(3) for c in range(9))
    assert assert_every_readout_whole(compare) >= 27 * 3

    # 6. The chart: its tick labels do not overlap.
    click_tab(compare, "Charts")
    qtbot.waitUntil(lambda: compare.results.charts.figure is not None, timeout=10_000)
    settle(qtbot)
    assert assert_tick_labels_apart(compare.results.charts.figure) >= 9

    # 7. A second run, slow to answer, cancelled mid-way.
    listing_server.script(None, ttft=0.5)
    for model in LISTED:
        listing_server.script(model, ttft=0.5, chunks=2)
    click(win, "Run comparison")
    qtbot.waitUntil(lambda: compare.progress.value() >= 1, timeout=15_000)
    with qtbot.waitSignal(compare.run_finished, timeout=15_000) as done:
        click(win, "Cancel")
    cancelled = done.args[0]
    assert cancelled.status == "cancelled" and 1 <= len(cancelled.cells) < 27
    settle(qtbot)
    texts = shown_texts(compare)
    assert not [t for t in texts if t.startswith(("streaming…", "waiting…"))], texts
    assert any(t.startswith("cancelled") for t in texts)
    assert_every_readout_whole(compare)

    # 8. Sync (F5) numbers the versions; a reviewer (bob) approves v3; carol publishes it.
    with qtbot.waitSignal(win.sync.finished, timeout=10_000):
        QTest.keyClick(win, Qt.Key.Key_F5)
    assert win.vault.version_by_id(third.id).number == 3
    with Vault.open(tmp_path / "bob.sqlite3", create=True, actor="bob") as bob:
        Syncer(bob, registry.client("bob")).sync()
        queue_review(bob, bob.version_by_id(third.id), "approve", "reads well")
        assert Syncer(bob, registry.client("bob")).sync().rejected == []
    activate(qtbot, win)
    QTest.keySequence(win, "Ctrl+Shift+P")
    dialog = QApplication.activeModalWidget()
    assert isinstance(dialog, PublishDialog)
    qtbot.waitUntil(lambda: "does not exist yet" in dialog.current_label.text(), timeout=10_000)
    label_box = field(dialog, "Label")
    assert isinstance(label_box, QComboBox) and label_box.currentText() == "production"
    versions = field(dialog, "Version")
    assert isinstance(versions, QComboBox)
    versions.setFocus()
    QTest.keyClicks(versions, "v3")
    assert versions.currentText().startswith("v3")
    QTest.keyClicks(field_with_placeholder(dialog, "Why"), "launch")
    qtbot.waitUntil(lambda: button(dialog, "Publish").isEnabled(), timeout=10_000)
    with qtbot.waitSignal(dialog.published, timeout=10_000):
        click(dialog, "Publish")
    with registry.client("alice") as reader:
        resolved, _ = reader.resolve(PROMPT)
    assert resolved is not None and resolved.version.id == third.id

    # 9. History shows the label on v3 (mirrored by the sync the publish started).
    if dialog.isVisible():
        dialog.close()
    click_tab(win, "History")
    history = win.history.model

    def labels() -> dict[str, str]:
        return {
            str(history.index(r, 0).data()): str(history.index(r, 4).data() or "")
            for r in range(history.rowCount())
        }

    qtbot.waitUntil(lambda: labels().get("v3") == "production", timeout=10_000)
    assert labels() == {"v3": "production", "v2": "", "v1": ""}
