"""The dark theme as a person sees it: a selected passing cell keeps its green, dialog
buttons carry no icon drawn for a light button, disabled fields look dimmer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from tests.gui.people import button
from workbench.secrets.store import MemoryStore
from workbench.settings import Settings
from workbench.ui.cell_view import CellDelegate, status_colors
from workbench.ui.errors import ErrorReporter
from workbench.ui.theme import DARK, LIGHT, apply_theme, contrast_ratio, palette_for

pytestmark = pytest.mark.gui


@pytest.fixture
def dark(qapp: QApplication) -> Iterator[QApplication]:
    apply_theme(qapp, "dark")
    yield qapp
    apply_theme(qapp, "light")


@pytest.mark.parametrize("theme", [LIGHT, DARK], ids=["light", "dark"])
def test_a_selected_pass_stays_green_and_readable(theme: Any) -> None:
    palette = palette_for(theme)
    highlight = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.Highlight)
    failed, passed, _streaming = (QColor(c) for c in status_colors(palette))
    for color, hue in ((passed, "green"), (failed, "red")):
        shown = CellDelegate.selected_color(color, palette)
        assert contrast_ratio(shown, highlight) >= 4.5, (hue, shown.name())
        channels = {"red": shown.red(), "green": shown.green(), "blue": shown.blue()}
        assert max(channels, key=lambda k: channels[k]) == hue, (hue, shown.name())
    text = CellDelegate.selected_color(palette.color(QPalette.ColorRole.Text), palette)
    assert text == palette.color(QPalette.ColorRole.HighlightedText)


@pytest.mark.parametrize("theme", [LIGHT, DARK], ids=["light", "dark"])
def test_disabled_fields_are_dimmer_not_lighter(theme: Any) -> None:
    p = palette_for(theme)
    active, disabled = QPalette.ColorGroup.Active, QPalette.ColorGroup.Disabled
    base, off = p.color(active, QPalette.ColorRole.Base), p.color(disabled, QPalette.ColorRole.Base)
    live = contrast_ratio(p.color(active, QPalette.ColorRole.Text), base)
    dead = contrast_ratio(p.color(disabled, QPalette.ColorRole.Text), off)
    assert dead < live / 2, (dead, live)
    if theme.dark:  # a lighter field on a dark window reads as the live one
        assert off.lightness() <= base.lightness(), (off.name(), base.name())


def test_dialog_buttons_have_no_light_only_icons(qtbot: Any, dark: Any, tmp_path: Path) -> None:
    from workbench.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings(), lambda: MemoryStore(), ErrorReporter(None))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    for text in ("Cancel", "Save"):
        assert button(dialog, text).icon().isNull(), f"{text} carries a stock icon"
    assert dialog.findChild(QDialogButtonBox) is not None
