"""The run charts stay readable however many bars they have (drawn with Agg).

Readability is measured, not eyeballed: every text's bounding box from the Agg
renderer (see tests/chartcheck.py) must not overlap another, no title may run into
another panel, and nothing may fall outside the figure.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from tests.chartcheck import layout_problems, run_cells
from workbench.charts.run_charts import draw_run, save_run_chart
from workbench.charts.run_layout import chart_layout
from workbench.charts.theme import DARK, LIGHT, ChartTheme

MODELS_3 = ["anthro:claude-3-5-haiku-latest", "openai:gpt-4o-mini", "local:llama-3.1-8b-instruct"]
MODELS_24 = [f"local:model-{i:02d}-{'instruct' if i % 3 else 'chat'}" for i in range(24)]


def drawn(cells, labels, width_in: float, theme: ChartTheme = LIGHT) -> Figure:
    layout = chart_layout(cells, labels, width_in)
    fig = Figure(figsize=(width_in, layout.height_in), dpi=100)
    FigureCanvasAgg(fig)
    draw_run(fig, cells, labels, theme, width_in)
    return fig


def bar_panels(fig: Figure) -> list[Axes]:
    return [ax for ax in fig.axes if ax.patches]


@pytest.mark.parametrize("width_in", [11.0, 7.0, 4.5, 24.0])
def test_twelve_bars_are_readable_at_every_width(width_in: float) -> None:
    cells, labels = run_cells(4, MODELS_3, unpriced=["llama-3.1-8b-instruct"], checked=True)
    fig = drawn(cells, labels, width_in)
    assert layout_problems(fig) == []
    first = fig.axes[0]
    shown = [t.get_text() for t in first.get_yticklabels()]
    # a bold header per version, then every model under it: 4 x (1 + 3) rows
    assert shown.count("claude-3-5-haiku-latest") == 4
    assert [s for s in shown if s.startswith(("v", "draft"))] == list(labels.values())
    assert len(shown) == 16


@pytest.mark.parametrize(("versions", "models"), [(1, MODELS_24), (3, MODELS_24[:8])])
def test_twenty_four_series_are_readable(versions: int, models: list[str]) -> None:
    cells, labels = run_cells(versions, models, repeats=1)
    for width_in in (11.0, 6.0):
        fig = drawn(cells, labels, width_in)
        assert layout_problems(fig) == []
        assert sum(len(ax.patches) for ax in fig.axes[:1]) == 24


def test_one_legend_entry_and_one_colour_per_model() -> None:
    cells, labels = run_cells(4, MODELS_3)
    fig = drawn(cells, labels, 11.0)
    (legend,) = fig.legends
    names = [t.get_text() for t in legend.get_texts()]
    assert names == ["claude-3-5-haiku-latest", "llama-3.1-8b-instruct", "gpt-4o-mini"]
    swatches = [to_hex(h.get_facecolor()) for h in legend.legend_handles]  # type: ignore[union-attr]
    assert len(set(swatches)) == 3
    # every bar of a model, in every version and every panel, has the model's colour
    ax = fig.axes[0]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    bar_rows = [r for r in rows if r in names]
    for panel in bar_panels(fig):
        if panel.get_title(loc="left") == "Time to first token":
            colours = [to_hex(p.get_facecolor()) for p in panel.patches]
            assert [swatches[names.index(r)] for r in bar_rows] == colours


def test_same_model_name_on_two_profiles_is_told_apart() -> None:
    cells, labels = run_cells(1, ["a:gpt-4o-mini", "b:gpt-4o-mini", "b:other"])
    fig = drawn(cells, labels, 11.0)
    names = [t.get_text() for t in fig.legends[0].get_texts()]
    assert names == ["a:gpt-4o-mini", "b:gpt-4o-mini", "other"]


def test_unknown_cost_reads_unknown_and_draws_no_bar() -> None:
    cells, labels = run_cells(2, MODELS_3, unpriced=["gpt-4o-mini"])
    fig = drawn(cells, labels, 11.0)
    (cost,) = [ax for ax in fig.axes if ax.get_title(loc="left") == "Cost / 1,000 calls"]
    values = [t.get_text() for t in cost.texts]
    assert values.count("unknown (no price)") == 2
    assert all(v.startswith("$") for v in values if v != "unknown (no price)")
    assert "$0" not in values
    assert len(cost.patches) == 4  # 2 versions x 2 priced models; none for the unpriced


def test_timing_panel_has_units_p50_bars_and_p95_whiskers() -> None:
    cells, labels = run_cells(1, MODELS_3[:1], cases=4, repeats=5)
    fig = drawn(cells, labels, 11.0)
    (ttft,) = [ax for ax in fig.axes if ax.get_title(loc="left") == "Time to first token"]
    fig.canvas.draw()
    ticks = [t.get_text() for t in ttft.get_xticklabels()]
    assert ticks and all(t.endswith(" ms") for t in ticks)
    ms = sorted(c.ttft_ms for c in cells if c.ttft_ms is not None)
    (bar,) = ttft.patches
    assert isinstance(bar, Rectangle)
    from workbench.core.runs import percentile

    assert bar.get_width() == pytest.approx(percentile(ms, 50))
    assert ttft.texts[0].get_text() == f"{percentile(ms, 50):,.0f} ms"
    whiskers = ttft.collections[1]  # scatter (dots) first, then the whisker
    assert isinstance(whiskers, LineCollection)
    (whisker,) = whiskers.get_segments()
    assert whisker[1][0] == pytest.approx(percentile(ms, 95))


def test_pass_rate_panel_only_when_it_says_something() -> None:
    cells, labels = run_cells(2, MODELS_3, checked=True, failing_model="openai:gpt-4o-mini")
    fig = drawn(cells, labels, 11.0)
    (rate,) = [ax for ax in fig.axes if ax.get_title(loc="left") == "Pass rate"]
    texts = [t.get_text() for t in rate.texts]
    # 3 cases x 2 repeats: the odd case passes its check; gpt-4o-mini's first case errors
    assert texts == ["33 % (2/6)", "33 % (2/6)", "33 % (2/6)"] * 2
    plain, plain_labels = run_cells(1, MODELS_3)
    titles = [ax.get_title(loc="left") for ax in drawn(plain, plain_labels, 11.0).axes]
    assert "Pass rate" not in titles and "Answered" not in titles


def test_dark_theme_paints_figure_axes_and_every_text() -> None:
    cells, labels = run_cells(4, MODELS_3, unpriced=["gpt-4o-mini"])
    fig = drawn(cells, labels, 11.0, DARK)
    fig.canvas.draw()
    assert to_hex(fig.get_facecolor()) == DARK.background
    assert {to_hex(ax.get_facecolor()) for ax in fig.axes} == {DARK.background}
    from matplotlib.text import Text

    colours = {to_hex(t.get_color()) for t in fig.findobj(Text) if t.get_visible() and t.get_text()}
    assert colours <= {DARK.foreground, DARK.muted}
    assert DARK.foreground in colours
    bars = {to_hex(p.get_facecolor()) for ax in fig.axes for p in ax.patches}
    assert bars <= set(DARK.palette)
    assert layout_problems(fig) == []


def test_theme_from_a_palette_picks_the_series_colours_for_its_background() -> None:
    dark = ChartTheme.from_colors("#eeeeee", "#202124")
    light = ChartTheme.from_colors("#111111", "#fafafa")
    assert dark.dark and not light.dark
    assert dark.palette == DARK.palette and light.palette == LIGHT.palette
    assert dark.grid not in (dark.foreground, dark.background)
    with pytest.raises(ValueError, match="#rrggbb"):
        ChartTheme.from_colors("white", "#000000")


def test_height_grows_with_rows_and_columns_follow_the_width() -> None:
    few, few_labels = run_cells(1, MODELS_3[:2])
    many, many_labels = run_cells(4, MODELS_3)
    assert (
        chart_layout(many, many_labels, 11.0).height_in
        > chart_layout(few, few_labels, 11.0).height_in
    )
    wide, narrow = chart_layout(many, many_labels, 24.0), chart_layout(many, many_labels, 5.0)
    assert (wide.columns, wide.rows) == (4, 1)  # no failures, no checks: four measures
    assert narrow.columns == 1 and narrow.rows == 4


def test_no_cells_shows_what_to_do() -> None:
    fig = drawn([], {}, 8.0)
    assert [t.get_text() for t in fig.texts] == ["Run a comparison to see charts"]
    assert layout_problems(fig) == []


def test_save_run_chart_writes_png_and_svg(tmp_path: Path) -> None:
    cells, labels = run_cells(4, MODELS_3)
    layout = save_run_chart(tmp_path / "run.png", cells, labels)
    data = (tmp_path / "run.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # the PNG is as tall as the layout asks (IHDR height, big-endian at bytes 20..24)
    assert int.from_bytes(data[20:24], "big") == round(layout.height_in * 110)
    save_run_chart(tmp_path / "run.svg", cells, labels, DARK)
    assert DARK.background in (tmp_path / "run.svg").read_text()


def test_a_partial_run_says_so_under_its_charts() -> None:
    """Issue 15, item 9: charts of a cancelled or killed run looked like a whole one."""
    from workbench.charts.run_layout import partial_note

    cells, labels = run_cells(2, MODELS_3)
    assert partial_note("finished", len(cells), len(cells)) == ""
    note = partial_note("interrupted", len(cells) - 2, len(cells))
    assert note == f"PARTIAL RUN (interrupted): {len(cells) - 2} of {len(cells)} calls."
    layout = chart_layout(cells[:-2], labels, 9.0, note)
    fig = Figure(figsize=(9.0, layout.height_in), dpi=100)
    FigureCanvasAgg(fig)
    draw_run(fig, cells[:-2], labels, LIGHT, 9.0, note)
    texts = [t.get_text() for t in fig.texts]
    assert any(t.startswith("PARTIAL RUN (interrupted)") for t in texts), texts
    assert layout_problems(fig) == []
    whole = drawn(cells, labels, 9.0)
    assert not any("PARTIAL" in t.get_text() for t in whole.texts)
