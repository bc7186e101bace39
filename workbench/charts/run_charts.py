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

import math
import textwrap
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.charts.theme import DARK, LIGHT, ChartTheme
from workbench.core.money import format_usd
from workbench.core.runs import CellResult, ModelRef, percentile

PALETTE = LIGHT.palette  # kept for callers that want the series colours

# Sizes in inches and points. Text is 8 pt; a row is tall enough for a label with
# air above and below, so labels on the y axis never touch.
ROW_IN = 0.215
TITLE_IN = 0.34
XTICKS_IN = 0.30
PANEL_PAD_IN = 0.16
CHAR_IN = 0.066  # mean width of one 8 pt DejaVu Sans character
MIN_PANEL_IN = 1.55
TITLE_CHAR_IN = 0.08  # one character of a 9.5 pt bold title
LABEL_CHARS = 38
FONT = 8.0
EXPORT_WIDTH_IN = 11.0
EXPORT_DPI = 110
NOTE = (
    "Bar: median (p50) · whisker: p95 · dot: one call · "
    "times, tokens and cost count answered calls only"
)


@dataclass(frozen=True)
class Bar:
    """One version x model: the cells behind one bar in every panel."""

    version: str
    model: ModelRef
    name: str
    color_index: int
    cells: tuple[CellResult, ...]


@dataclass(frozen=True)
class Row:
    """One line of the y axis: a version header (``bar`` is None) or a bar."""

    label: str
    bar: Bar | None


@dataclass(frozen=True)
class Mark:
    """What one panel draws for one bar."""

    value: float | None
    """Length of the bar; None draws no bar (only ``text``)."""
    text: str
    whisker: float | None = None
    dots: tuple[float, ...] = ()
    quiet: bool = False
    """``text`` is a remark ("unknown", "no answers"), shown muted."""


@dataclass(frozen=True)
class Panel:
    title: str
    marks: tuple[Mark, ...]
    """One per bar row, in row order."""
    tick: Callable[[float], str]
    xmax: float | None = None
    """A fixed end of the axis (100 for percentages); None fits the data."""


@dataclass(frozen=True)
class ChartLayout:
    """How a run's figure is laid out at a given width."""

    columns: int
    rows: int
    legend_columns: int
    height_in: float
    label_in: float


def _elide(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _model_names(models: Sequence[ModelRef]) -> dict[ModelRef, str]:
    """The model's name alone when no other profile has a model of that name,
    else ``profile:model``; echo says it is not a model."""
    counts: dict[str, int] = {}
    for m in models:
        counts[m.model] = counts.get(m.model, 0) + 1
    names = {}
    for m in models:
        if m.profile == "echo":
            names[m] = "echo (not a model)"
        else:
            names[m] = _elide(m.model if counts[m.model] == 1 else str(m))
    return names


def chart_rows(
    cells: Sequence[CellResult], labels: Mapping[uuid.UUID, str]
) -> tuple[list[Row], list[tuple[str, int]]]:
    """The rows of the y axis (versions in ``labels`` order, models by name under
    each) and the legend: every model's name and colour index."""
    grouped: dict[tuple[uuid.UUID, ModelRef], list[CellResult]] = {}
    for c in cells:
        grouped.setdefault((c.key.version_id, c.key.model), []).append(c)
    models = sorted({m for _, m in grouped}, key=str)
    names = _model_names(models)
    color = {m: i for i, m in enumerate(models)}
    order = {v: i for i, v in enumerate(labels)}
    versions = sorted({v for v, _ in grouped}, key=lambda v: (order.get(v, len(order)), v.hex))
    rows: list[Row] = []
    for vid in versions:
        version = _elide(labels.get(vid, vid.hex[:8]))
        rows.append(Row(version, None))
        for m in models:
            if (vid, m) in grouped:
                bar = Bar(version, m, names[m], color[m], tuple(grouped[(vid, m)]))
                rows.append(Row(bar.name, bar))
    return rows, [(names[m], color[m]) for m in models]


# --- numbers with units -----------------------------------------------------------


def _usd_tick(usd: float) -> str:
    """Axis ticks: as many decimals as the tick needs, at least cents ($0.10, $0.05)."""
    if usd == 0:
        return "$0"
    digits = 2
    while digits < 8 and abs(round(usd, digits) - usd) > abs(usd) * 1e-6:
        digits += 1
    return f"${usd:,.{digits}f}"


def _time_unit(marks_ms: Sequence[float]) -> tuple[float, str]:
    """Milliseconds for runs that stay under a second, else seconds."""
    return (1.0, "ms") if max(marks_ms, default=0) < 1000 else (1000.0, "s")


def _fmt_time(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:,.0f} ms"
    return f"{value:.2f} s" if value < 10 else f"{value:,.1f} s"


def _tick_time(unit: str) -> Callable[[float], str]:
    return lambda x: f"{x:,.0f} ms" if unit == "ms" else f"{x:g} s"


# --- the measures -------------------------------------------------------------------


def _timing(bars: Sequence[Bar], attr: str, title: str) -> Panel:
    per_bar = [
        [getattr(c, attr) for c in b.cells if c.ok and getattr(c, attr) is not None] for b in bars
    ]
    scale, unit = _time_unit([v for values in per_bar for v in values])
    marks = []
    for values in per_bar:
        if not values:
            marks.append(Mark(None, "no answers", quiet=True))
            continue
        scaled = [v / scale for v in values]
        p50 = percentile(scaled, 50) or 0.0
        p95 = percentile(scaled, 95) or 0.0
        dots = tuple(scaled) if len(scaled) > 1 else ()
        marks.append(Mark(p50, _fmt_time(p50, unit), whisker=p95, dots=dots))
    return Panel(title, tuple(marks), _tick_time(unit))


def _cost(bars: Sequence[Bar]) -> Panel:
    marks = []
    for b in bars:
        ok = [c for c in b.cells if c.ok]
        priced = [c.cost_usd for c in ok if c.cost_usd is not None]
        if not ok:
            marks.append(Mark(None, "no answers", quiet=True))
        elif not priced:
            marks.append(Mark(None, "unknown (no price)", quiet=True))
        else:
            per_k = sum(priced) / len(priced) * 1000
            unpriced = len(ok) - len(priced)
            text = format_usd(per_k) + (f" ({unpriced} unpriced)" if unpriced else "")
            marks.append(Mark(per_k, text))
    return Panel("Cost / 1,000 calls", tuple(marks), _usd_tick)


def _tokens(bars: Sequence[Bar]) -> Panel:
    marks = []
    for b in bars:
        ok = [c for c in b.cells if c.ok and c.output_tokens is not None]
        if not ok:
            marks.append(Mark(None, "no answers", quiet=True))
            continue
        mean = sum(c.output_tokens or 0 for c in ok) / len(ok)
        approx = "≈" if any(c.tokens_estimated for c in ok) else ""
        marks.append(Mark(mean, f"{approx}{mean:,.0f} tok"))
    return Panel("Output tokens / call", tuple(marks), lambda x: f"{x:,.0f}")


def _pass_rate(bars: Sequence[Bar]) -> Panel | None:
    """Share of calls that answered with every check holding; only for runs where
    that says something (some case has checks, or some call failed)."""
    every = [c for b in bars for c in b.cells]
    has_checks = any(c.checks for c in every)
    if not has_checks and all(c.ok for c in every):
        return None
    marks = []
    for b in bars:
        n = len(b.cells)
        passed = sum(1 for c in b.cells if c.passed)
        pct = passed / n * 100 if n else 0.0
        marks.append(Mark(pct, f"{pct:.0f} % ({passed}/{n})"))
    title = "Pass rate" if has_checks else "Answered"
    return Panel(title, tuple(marks), lambda x: f"{x:.0f} %", xmax=100.0)


def _panels(bars: Sequence[Bar]) -> list[Panel]:
    panels = [
        _timing(bars, "ttft_ms", "Time to first token"),
        _timing(bars, "latency_ms", "Total latency"),
        _cost(bars),
        _tokens(bars),
    ]
    rate = _pass_rate(bars)
    return [*panels, rate] if rate else panels


def panel_titles(cells: Sequence[CellResult], labels: Mapping[uuid.UUID, str]) -> list[str]:
    rows, _ = chart_rows(cells, labels)
    return [p.title for p in _panels([r.bar for r in rows if r.bar is not None])]


# --- layout ---------------------------------------------------------------------------


def partial_note(status: str, cells: int, planned: int) -> str:
    """What a chart of a run that did not finish says first ("" for a finished one)."""
    if status == "finished" and cells >= planned:
        return ""
    return f"PARTIAL RUN ({status}): {cells:,} of {planned:,} calls."


def chart_layout(
    cells: Sequence[CellResult],
    labels: Mapping[uuid.UUID, str],
    width_in: float,
    partial: str = "",
) -> ChartLayout:
    """Columns of panels that fit ``width_in`` and the height that gives every row
    of the y axis room for its label."""
    rows, legend = chart_rows(cells, labels)
    titles = panel_titles(cells, labels) if rows else [""]
    n_panels = len(titles)
    label_in = max((len(r.label) for r in rows), default=8) * CHAR_IN * 1.08 + 0.3
    panel_in = max(MIN_PANEL_IN, max(len(t) for t in titles) * TITLE_CHAR_IN + 0.1)
    fit = int((width_in - label_in - 0.3) // panel_in)
    columns = max(1, min(n_panels, fit))
    grid_rows = math.ceil(n_panels / columns)
    columns = math.ceil(n_panels / grid_rows)  # 3 + 2 rather than 4 + 1
    entry_in = max((len(name) for name, _ in legend), default=4) * CHAR_IN + 0.55
    legend_columns = max(1, min(len(legend), int((width_in - 0.4) // entry_in)))
    legend_rows = math.ceil(len(legend) / legend_columns) if legend else 0
    if grid_rows * columns > n_panels and len(legend) <= len(rows):
        # A free cell of the grid (3 + 2 panels): the legend goes there, one entry
        # a line, and costs the figure no height of its own.
        legend_columns, legend_rows = 1, 0
    note_lines = len(_wrap_note(width_in, partial))
    panel_height = TITLE_IN + max(len(rows), 1) * ROW_IN + XTICKS_IN + PANEL_PAD_IN
    height = (
        0.15
        + (legend_rows * 0.205 + 0.12 if legend_rows else 0)
        + grid_rows * panel_height
        + note_lines * 0.15
        + 0.12
    )
    return ChartLayout(columns, grid_rows, legend_columns, max(height, 2.6), label_in)


def _wrap_note(width_in: float, partial: str = "") -> list[str]:
    """The note under the charts; a partial run's note comes first, on its own line."""
    width = max(30, int((width_in - 0.4) / (CHAR_IN * 0.92)))
    return [*textwrap.wrap(partial, width), *textwrap.wrap(NOTE, width)]


# --- drawing --------------------------------------------------------------------------


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
    panels = _panels(bars)
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
        "\n".join(_wrap_note(width, partial)),
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


__all__ = [
    "DARK",
    "LIGHT",
    "PALETTE",
    "ChartLayout",
    "ChartTheme",
    "chart_layout",
    "chart_rows",
    "draw_run",
    "panel_titles",
    "partial_note",
    "save_run_chart",
]
