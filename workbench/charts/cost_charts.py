"""Spending as a chart: one horizontal bar per model, prompt, version or day
(``workbench costs --by ... --chart FILE``).

Bars, not lines: groups are categories (or days read one by one), and a bar per row
stays readable at 20, 50 or 200 rows because the figure grows with them (a fixed
height per row) and long names are elided in the middle. Every bar says its figure by
the one money rule: ``$0.0123``; ``≥ $0.0123, 4 unpriced`` drawn hatched (a floor, not
a total); ``unknown`` when nothing in the group is priced, with no bar at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.charts.theme import LIGHT, ChartTheme
from workbench.core.money import CostTotal, format_usd

ROW_IN = 0.32
"""Height of one bar's row, inches: the figure grows with the rows."""
LABEL_CHARS = 34
WIDTH_IN = 9.0
DPI = 110


def _elide(text: str) -> str:
    if len(text) <= LABEL_CHARS:
        return text
    half = (LABEL_CHARS - 1) // 2
    return text[:half] + "…" + text[-half:]


def money_label(cost: CostTotal) -> str:
    if cost.unpriced_calls and not cost.priced_calls:
        return "unknown"
    money = format_usd(cost.priced_usd)
    if cost.unpriced_calls:
        return f"≥ {money}, {cost.unpriced_calls:,} unpriced"
    return money


def draw_cost_chart(
    rows: Sequence[tuple[str, CostTotal]],
    title: str,
    theme: ChartTheme = LIGHT,
    width_in: float = WIDTH_IN,
) -> Any:
    """The figure (matplotlib ``Figure`` on an Agg canvas) of ``rows`` (label, cost),
    top to bottom in the given order."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    height = max(2.2, 1.3 + ROW_IN * len(rows))
    fig = Figure(figsize=(width_in, height), dpi=DPI, facecolor=theme.background)
    FigureCanvasAgg(fig)
    left = min(0.45, 2.9 / width_in)  # the labels' room: ~2.9 in, less on a wide chart
    ax = fig.add_axes((left, 0.9 / height, 0.86 - left, 1 - 1.45 / height))
    ax.set_facecolor(theme.background)
    ys = list(range(len(rows)))[::-1]
    values = [c.priced_usd if c.priced_calls else 0.0 for _label, c in rows]
    top = max(values, default=0.0) or 1.0
    for y, (_label, cost), value in zip(ys, rows, values, strict=True):
        floor = bool(cost.unpriced_calls)
        if cost.priced_calls:
            ax.barh(
                y, value, height=0.62, color=theme.color(0),
                hatch="//" if floor else None, edgecolor=theme.background if not floor
                else theme.foreground, linewidth=0.6,
            )  # fmt: skip
        ax.text(
            value + top * 0.015, y, money_label(cost), va="center", ha="left",
            color=theme.muted if not cost.priced_calls else theme.foreground, fontsize=9,
        )  # fmt: skip
    ax.set_yticks(ys, [_elide(label) for label, _c in rows], fontsize=9, color=theme.foreground)
    ax.set_xlim(0, top * 1.45)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    from matplotlib.ticker import MaxNLocator

    # Few ticks: a money label is long ("$0.00300"), and six of them overprinted.
    ax.xaxis.set_major_locator(MaxNLocator(nbins=max(2, min(5, int(width_in * 0.6 - 1)))))
    ax.xaxis.set_major_formatter(lambda v, _pos: format_usd(v) if v else "$0")
    ax.tick_params(axis="x", colors=theme.muted, labelsize=8)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color=theme.grid, linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color(theme.grid)
    fig.suptitle(title, x=0.02, ha="left", y=1 - 0.28 / height, color=theme.foreground,
                 fontsize=11, fontweight="bold")  # fmt: skip
    fig.text(
        0.02, 0.3 / height,
        "Hatched: a floor (some calls unpriced); 'unknown': nothing in it is priced. "
        "Cached replays are not spending.",
        color=theme.muted, fontsize=8,
    )  # fmt: skip
    return fig


def save_cost_chart(
    path: Path,
    rows: Sequence[tuple[str, CostTotal]],
    title: str,
    theme: ChartTheme = LIGHT,
) -> None:
    """Draw ``rows`` to PNG, SVG or PDF, by the file's suffix."""
    fig = draw_cost_chart(rows, title, theme)
    fig.savefig(path, facecolor=theme.background)


__all__ = ["draw_cost_chart", "money_label", "save_cost_chart"]
