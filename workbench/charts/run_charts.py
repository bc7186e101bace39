"""Figures of a run, built on a matplotlib ``Figure`` (no pyplot, no Qt).

The desktop app draws them in ``FigureCanvasQTAgg``; the CLI and tests render them
with Agg (``workbench runs chart RUN -o run.png``). matplotlib is imported by the
caller, never here at import time: it costs about 0.9 s.

One figure, small multiples: a panel per measure (time to first token, total
latency, cost per 1,000 calls, output tokens, pass rate when the run has checks or
failures), side by side when the figure is wide and wrapped onto more rows when it
is narrow. Every panel has the same rows: a bold header per version, then one
horizontal bar per model under it, one colour per model (named in the legend and on
the row). Labels sit on the y axis, so they never run into each other however many
bars there are; the figure grows in height with the rows (:func:`chart_layout`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench.charts.run_layout import (
    EXPORT_DPI,
    EXPORT_WIDTH_IN,
    FONT,
    ChartLayout,
    Panel,
    Row,
    chart_layout,
    chart_rows,
    measure_panels,
    partial_note,
    wrap_note,
)
from workbench.charts.theme import LIGHT, ChartTheme
from workbench.core.runs import CellResult

# ChartLayout, chart_layout and partial_note are re-exported: workbench/ui imports them here.
__all__ = ["ChartLayout", "chart_layout", "draw_run", "partial_note", "save_run_chart"]


def _style_axes(ax: Any, theme: ChartTheme, show_labels: bool) -> None:
    ax.set_facecolor(theme.background)
    ax.tick_params(
        axis="both", colors=theme.grid, labelcolor=theme.foreground, labelsize=FONT, length=3
    )
    ax.tick_params(axis="y", length=0, pad=6, labelleft=show_labels)
    ax.grid(axis="x", color=theme.grid, linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(theme.grid)


def _draw_panel(
    ax: Any, panel: Panel, rows: Sequence[Row], theme: ChartTheme, width_in: float
) -> list[Any]:
    """Bars, whiskers, dots and value labels; returns the value labels (to fit)."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    texts = []
    marks = iter(panel.marks)
    for y, row in enumerate(rows):
        if row.bar is None:
            if y:
                ax.axhline(y - 0.5, color=theme.grid, linewidth=0.8, zorder=1)
            continue
        mark = next(marks)
        color = theme.color(row.bar.color_index)
        end = 0.0
        if mark.value is not None:
            ax.barh(y, mark.value, height=0.66, color=color, zorder=2, linewidth=0)
            end = mark.value
        if mark.dots:
            jitter = [y + ((k * 7) % 5 - 2) * 0.075 for k in range(len(mark.dots))]
            ax.scatter(
                mark.dots, jitter, s=6, color=theme.foreground, alpha=0.45, zorder=3, linewidths=0
            )
            end = max(end, *mark.dots)
        if mark.whisker is not None and mark.value is not None:
            ax.errorbar(
                [mark.value],
                [y],
                xerr=[[0.0], [max(0.0, mark.whisker - mark.value)]],
                fmt="none",
                ecolor=theme.foreground,
                elinewidth=1.0,
                capsize=2.5,
                zorder=4,
            )
            end = max(end, mark.whisker)
        texts.append(
            ax.annotate(
                mark.text,
                (end, y),
                xytext=(4, 0),
                textcoords="offset points",
                ha="left",
                va="center",
                fontsize=FONT - 0.5,
                color=theme.muted if mark.quiet else theme.foreground,
                fontstyle="italic" if mark.quiet else "normal",
                zorder=5,
            )
        )
    ax.set_title(
        panel.title, loc="left", fontsize=FONT + 1.5, fontweight="bold", color=theme.foreground
    )
    bins = max(2, min(5, int(width_in / 0.6)))  # a tick label is up to 0.5 in wide
    ax.xaxis.set_major_locator(MaxNLocator(nbins=bins, steps=[1, 2, 2.5, 5, 10], min_n_ticks=2))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: panel.tick(x)))
    top = panel.xmax or max(
        [m.whisker or m.value or 0.0 for m in panel.marks]
        + [max(m.dots, default=0.0) for m in panel.marks]
    )
    ax.set_xlim(0, top if top > 0 else 1.0)
    return texts


def _fit_value_labels(fig: Any, axes_texts: Sequence[tuple[Any, list[Any], Panel]]) -> None:
    """Widen each axis so the value label after its longest bar stays inside it."""
    fig.draw_without_rendering()
    for ax, texts, panel in axes_texts:
        width_px = ax.bbox.width
        _lo, xmax = ax.get_xlim()
        need = xmax
        for text in texts:
            anchor = text.xy[0]
            label_px = text.get_window_extent().width + 4 * fig.dpi / 72 + 3
            if width_px > label_px * 1.05:
                need = max(need, anchor * width_px / (width_px - label_px))
            else:
                need = max(need, anchor * 20)  # a pane too narrow: keep the bar short
        ax.set_xlim(0, need * 1.02)
        if panel.xmax is not None:
            ax.set_xticks([0, panel.xmax])


def draw_run(
    fig: Any,
    cells: Sequence[CellResult],
    labels: Mapping[uuid.UUID, str],
    theme: ChartTheme = LIGHT,
    width_in: float | None = None,
    partial: str = "",
) -> ChartLayout:
    """Draw the run on ``fig`` (cleared first) for a figure ``width_in`` wide (the
    figure's own width by default). The figure's height should be the returned
    layout's ``height_in``: the caller sets it (the Qt canvas sizes the figure).
    ``partial`` (see :func:`partial_note`) heads the note of a run that did not finish."""
    fig.clear()
    fig.set_facecolor(theme.background)
    fig.set_layout_engine("constrained", w_pad=6 / 72, h_pad=6 / 72, wspace=0.02, hspace=0.04)
    width = width_in if width_in is not None else float(fig.get_size_inches()[0])
    layout = chart_layout(cells, labels, width, partial)
    rows, legend = chart_rows(cells, labels)
    if not rows:
        fig.text(
            0.5,
            0.5,
            "Run a comparison to see charts",
            ha="center",
            va="center",
            color=theme.muted,
            fontsize=FONT + 2,
        )
        return layout
    from matplotlib.patches import Patch

    bars = [r.bar for r in rows if r.bar is not None]
    panels = measure_panels(bars)
    axes = fig.subplots(layout.rows, layout.columns, sharey=True, squeeze=False)
    panel_in = (width - layout.label_in) / layout.columns - 0.15
    drawn = []
    legend_ax = None
    for index, ax in enumerate(axes.flat):
        if index >= len(panels):
            if legend_ax is None and layout.legend_columns == 1 and layout.rows > 1:
                legend_ax = ax  # the legend's place (see chart_layout)
                ax.set_xticks([])
                ax.xaxis.set_visible(False)
                ax.axis("off")
            else:
                ax.remove()
            continue
        _style_axes(ax, theme, show_labels=index % layout.columns == 0)
        texts = _draw_panel(ax, panels[index], rows, theme, panel_in)
        drawn.append((ax, texts, panels[index]))
    first = axes.flat[0]
    first.set_yticks(range(len(rows)), [r.label for r in rows])
    first.set_ylim(len(rows) - 0.5, -0.5)  # first row on top
    for ax, _texts, _panel in drawn:
        for tick, row in zip(ax.yaxis.get_major_ticks(len(rows)), rows, strict=True):
            tick.label1.set_fontweight("bold" if row.bar is None else "normal")
            tick.label1.set_fontsize(FONT + (0.5 if row.bar is None else 0))
    (legend_ax or fig).legend(
        handles=[Patch(facecolor=theme.color(i), edgecolor="none") for _, i in legend],
        labels=[name for name, _ in legend],
        loc="center left" if legend_ax is not None else "outside upper center",
        ncols=layout.legend_columns,
        frameon=False,
        fontsize=FONT,
        labelcolor=theme.foreground,
        handlelength=1.1,
        handleheight=0.9,
        columnspacing=1.6,
        borderaxespad=0.2,
    )
    fig.supxlabel(
        "\n".join(wrap_note(width, partial)),
        fontsize=FONT - 0.5,
        color=theme.foreground if partial else theme.muted,
    )
    _fit_value_labels(fig, drawn)
    return layout


def save_run_chart(
    path: Path,
    cells: Sequence[CellResult],
    labels: Mapping[uuid.UUID, str],
    theme: ChartTheme = LIGHT,
    width_in: float = EXPORT_WIDTH_IN,
    partial: str = "",
) -> ChartLayout:
    """Render the run's figure to PNG, SVG or PDF (by the file's suffix) with Agg."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    layout = chart_layout(cells, labels, width_in, partial)
    fig = Figure(figsize=(width_in, layout.height_in), dpi=EXPORT_DPI)
    FigureCanvasAgg(fig)
    draw_run(fig, cells, labels, theme, width_in, partial)
    fig.savefig(path, facecolor=theme.background)
    return layout
