"""The Charts tab: readable at 12+ bars in a small pane (it scrolls), coloured by the
app palette and redrawn when the palette changes, matplotlib loaded only when shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from matplotlib.colors import to_hex
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton, QTabBar

from tests.chartcheck import layout_problems, run_cells, title_texts
from tests.gui.conftest import engine_warm, two_versions
from tests.providerserver.server import ProviderServer
from workbench.core.runs import TestCase
from workbench.ui.charts import ChartsPanel

pytestmark = pytest.mark.gui

MODELS = ["anthro:claude-3-5-haiku-latest", "openai:gpt-4o-mini", "local:llama-3.1-8b-instruct"]


def _panel(qtbot, width: int, height: int) -> ChartsPanel:  # type: ignore[no-untyped-def]
    panel = ChartsPanel()
    qtbot.addWidget(panel)
    panel.resize(width, height)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def _click_tab(qtbot, bar: QTabBar, text: str) -> None:  # type: ignore[no-untyped-def]
    index = next(i for i in range(bar.count()) if bar.tabText(i) == text)
    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
    qtbot.waitUntil(lambda: bar.currentIndex() == index, timeout=2_000)


def test_twelve_bars_in_a_short_pane_scroll_and_stay_readable(qtbot) -> None:  # type: ignore[no-untyped-def]
    cells, labels = run_cells(4, MODELS, unpriced=["gpt-4o-mini"])
    panel = _panel(qtbot, 1040, 300)
    panel.set_cells(cells, labels)
    qtbot.waitUntil(lambda: panel.canvas is not None and panel.canvas.height() > 300)
    viewport = panel.scroll_area.viewport()
    qtbot.waitUntil(lambda: panel.drawn_width == viewport.width(), timeout=20_000)
    assert panel.canvas.width() == viewport.width()  # as wide as the pane, never wider
    bar = panel.scroll_area.verticalScrollBar()
    assert bar.maximum() > 0  # taller than the pane: it scrolls instead of squeezing
    assert layout_problems(panel.figure) == []
    legend = [t.get_text() for t in panel.figure.legends[0].get_texts()]
    assert legend == ["claude-3-5-haiku-latest", "llama-3.1-8b-instruct", "gpt-4o-mini"]
    wide_columns = panel.chart_layout.columns  # type: ignore[union-attr]
    # A person narrows the window: the panels wrap onto more rows, still readable.
    panel.resize(560, 300)
    qtbot.waitUntil(lambda: panel.drawn_width == viewport.width() < 560, timeout=20_000)
    assert panel.chart_layout.columns < wide_columns  # type: ignore[union-attr]
    assert layout_problems(panel.figure) == []
    QTest.keyClick(bar, Qt.Key.Key_End)
    assert bar.value() == bar.maximum()


def test_chart_follows_the_app_palette(qtbot) -> None:  # type: ignore[no-untyped-def]
    cells, labels = run_cells(2, MODELS)
    panel = _panel(qtbot, 900, 400)
    panel.set_cells(cells, labels)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    light = app.palette()
    light_bg = light.color(QPalette.ColorRole.Window).name()
    assert to_hex(panel.figure.get_facecolor()) == light_bg
    dark = QPalette(light)
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        dark.setColor(group, QPalette.ColorRole.Window, QColor("#202124"))
        dark.setColor(group, QPalette.ColorRole.WindowText, QColor("#e8eaed"))
    try:
        app.setPalette(dark)
        qtbot.waitUntil(lambda: to_hex(panel.figure.get_facecolor()) == "#202124")
        axes = panel.figure.axes
        assert {to_hex(ax.get_facecolor()) for ax in axes} == {"#202124"}
        panel.figure.canvas.draw()
        titles = {to_hex(t.get_color()) for ax in axes for t in title_texts(ax)}
        ticks = {to_hex(t.get_color()) for t in axes[0].get_yticklabels()}
        assert titles == ticks == {"#e8eaed"}
        assert layout_problems(panel.figure) == []
    finally:
        app.setPalette(light)
    qtbot.waitUntil(lambda: to_hex(panel.figure.get_facecolor()) == light_bg)


def test_charts_tab_after_a_run_shows_every_version_and_model(
    qtbot, window, vault, server: ProviderServer, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    server.script("test-model", ttft=0.02, chunks=2)
    server.script("test-model-2", ttft=0.01, chunks=2)
    two_versions(vault)
    vault.set_test_cases(
        "support/reply",
        [TestCase(name=n, values={"question": q}) for n, q in [("a", "Hi?"), ("b", "Refund?")]],
    )
    window.browser.reload()
    window.browser.select("support/reply")
    compare = window.compare
    _click_tab(qtbot, window.tabs.tabBar(), "Compare")
    run_button = next(b for b in compare.findChildren(QPushButton) if b.text() == "Run comparison")
    assert run_button.isVisible() and run_button.isEnabled()
    engine_warm(qtbot, window)
    with qtbot.waitSignal(compare.run_finished, timeout=20_000):
        QTest.mouseClick(run_button, Qt.MouseButton.LeftButton)
    _click_tab(qtbot, compare.results.tabBar(), "Charts")
    charts = compare.results.charts
    qtbot.waitUntil(lambda: charts.figure is not None and bool(charts.figure.axes))
    assert layout_problems(charts.figure) == []
    rows = [t.get_text() for t in charts.figure.axes[0].get_yticklabels()]
    assert rows.count("test-model") == 2 and rows.count("test-model-2") == 2
    assert [t.get_text() for t in charts.figure.legends[0].get_texts()] == [
        "test-model",
        "test-model-2",
    ]
    out = tmp_path / "run.png"
    charts.export(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


_PROBE = textwrap.dedent(
    """
    import json, sys
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from tests.chartcheck import run_cells
    from workbench.ui.charts import ChartsPanel
    import workbench.ui.compare  # the panel that holds it
    panel = ChartsPanel()
    cells, labels = run_cells(1, ["a:m"])
    panel.set_cells(cells, labels)  # hidden: nothing drawn yet
    before = "matplotlib" in sys.modules
    panel.resize(600, 300)
    panel.show()
    app.processEvents()
    print(json.dumps({"before": before, "after": "matplotlib" in sys.modules,
                      "axes": len(panel.figure.axes)}))
    """
)


def test_matplotlib_is_imported_only_when_a_chart_is_shown() -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(root)}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"before": False, "after": True, "axes": 4}


def test_a_tall_pane_does_not_turn_bars_into_slabs(qtbot) -> None:  # type: ignore[no-untyped-def]
    """At 2560x1440 the pane is far taller than 12 bars need: the chart grows a little,
    then stays at the top; each bar stays about one label high."""
    from matplotlib.patches import Rectangle

    from workbench.charts.run_layout import ROW_IN
    from workbench.ui.charts import DPI, MAX_STRETCH

    cells, labels = run_cells(4, MODELS)
    panel = _panel(qtbot, 2300, 1300)
    panel.set_cells(cells, labels)
    viewport = panel.scroll_area.viewport()
    qtbot.waitUntil(lambda: panel.canvas is not None and panel.drawn_width == viewport.width())
    assert panel.chart_layout is not None
    needed = panel.chart_layout.height_in * DPI
    assert panel.canvas.height() <= needed * MAX_STRETCH + 1 < viewport.height()
    assert panel.canvas.y() == 0  # at the top of the pane, not centred in it
    panel.canvas.draw()
    bars = [
        p.get_window_extent().height
        for ax in panel.figure.axes
        for p in ax.patches
        if isinstance(p, Rectangle) and p.get_width() > 0
    ]
    assert len(bars) >= 12
    assert max(bars) <= ROW_IN * DPI * MAX_STRETCH  # about one row's pitch at most
    assert layout_problems(panel.figure) == []
