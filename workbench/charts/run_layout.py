"""What a run's figure shows and how big it is, without drawing it: the rows of the y
axis (a header per version, a bar per model), a panel per measure with what it marks for
each bar, and the columns and height that fit a width (:func:`chart_layout`). Drawing
them is :mod:`workbench.charts.run_charts`."""

from __future__ import annotations

import math
import textwrap
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from workbench.core.money import format_usd
from workbench.core.runs import CellResult, ModelRef, percentile

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


def measure_panels(bars: Sequence[Bar]) -> list[Panel]:
    """A panel per measure of ``bars``, in the figure's order (pass rate when it tells)."""
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
    return [p.title for p in measure_panels([r.bar for r in rows if r.bar is not None])]


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
    note_lines = len(wrap_note(width_in, partial))
    panel_height = TITLE_IN + max(len(rows), 1) * ROW_IN + XTICKS_IN + PANEL_PAD_IN
    height = (
        0.15
        + (legend_rows * 0.205 + 0.12 if legend_rows else 0)
        + grid_rows * panel_height
        + note_lines * 0.15
        + 0.12
    )
    return ChartLayout(columns, grid_rows, legend_columns, max(height, 2.6), label_in)


def wrap_note(width_in: float, partial: str = "") -> list[str]:
    """The note under the charts; a partial run's note comes first, on its own line."""
    width = max(30, int((width_in - 0.4) / (CHAR_IN * 0.92)))
    return [*textwrap.wrap(partial, width), *textwrap.wrap(NOTE, width)]
