"""Readability checks for a drawn matplotlib figure, and runs to chart.

:func:`layout_problems` measures every text's bounding box with the figure's
renderer (``Text.get_window_extent``) and names each overlap or clipping it finds;
an empty list means a person can read every label. Used by the chart unit tests and
by GUI tests on the canvas that the app shows. No Qt here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from workbench.core.assertions import Assertion, check
from workbench.core.runs import CellKey, CellResult, ModelRef

TOLERANCE_PX = 0.5


def _overlap(a: Any, b: Any) -> bool:
    dx: float = min(a.x1, b.x1) - max(a.x0, b.x0)
    dy: float = min(a.y1, b.y1) - max(a.y0, b.y0)
    return dx > TOLERANCE_PX and dy > TOLERANCE_PX


def _shown(text: Any) -> bool:
    return bool(text.get_visible() and text.get_text().strip())


def _tick_labels(ax: Any) -> list[Any]:
    """The tick labels drawn: matplotlib also lists ticks just outside the view,
    which it does not draw."""

    def inside(value: float, limits: tuple[float, float]) -> bool:
        lo, hi = sorted(limits)
        slack = (hi - lo) * 1e-9
        return lo - slack <= value <= hi + slack

    xs = [t for t in ax.get_xticklabels() if inside(t.get_position()[0], ax.get_xlim())]
    ys = [t for t in ax.get_yticklabels() if inside(t.get_position()[1], ax.get_ylim())]
    return [t for t in xs + ys if _shown(t)]


def title_texts(ax: Any) -> list[Any]:
    """The axes' title texts, wherever they are placed (left, centre, right)."""
    from matplotlib.text import Text

    wanted = {ax.get_title(loc) for loc in ("left", "center", "right")} - {""}
    return [
        c
        for c in ax.get_children()
        if isinstance(c, Text) and c not in ax.texts and _shown(c) and c.get_text() in wanted
    ]


def layout_problems(fig: Any) -> list[str]:
    """Every pair of texts that overlap, every title that runs into another panel,
    every text outside the figure, every value label outside its panel. Draws the
    figure first (any canvas with a renderer: Agg or QtAgg)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems: list[str] = []
    page = fig.bbox

    def box(text: Any) -> Any:
        return text.get_window_extent(renderer=renderer)

    from matplotlib.text import Text

    every_tick = {id(t) for ax in fig.axes for t in ax.get_xticklabels() + ax.get_yticklabels()}
    drawn_ticks = [t for ax in fig.axes for t in _tick_labels(ax)]
    texts = [t for t in fig.findobj(Text) if id(t) not in every_tick and _shown(t)]
    for text in texts + drawn_ticks:
        b = box(text)
        if b.x0 < page.x0 - 1 or b.y0 < page.y0 - 1 or b.x1 > page.x1 + 1 or b.y1 > page.y1 + 1:
            problems.append(f"text {text.get_text()!r} is outside the figure ({b} vs {page})")

    axes = list(fig.axes)
    ticks = [(ax, t) for ax in axes for t in _tick_labels(ax)]
    for i, (ax_a, a) in enumerate(ticks):
        for ax_b, b in ticks[i + 1 :]:
            if _overlap(box(a), box(b)):
                problems.append(
                    f"tick labels {a.get_text()!r} and {b.get_text()!r} overlap"
                    + ("" if ax_a is ax_b else " (different panels)")
                )

    titles = [(ax, t) for ax in axes for t in title_texts(ax)]
    legends = [lg for lg in fig.legends]
    for ax, title in titles:
        tb = box(title)
        for other in axes:
            if other is not ax and _overlap(tb, other.bbox):
                problems.append(f"title {title.get_text()!r} runs into another panel")
        for other_ax, other in titles:
            if other_ax is not ax and _overlap(tb, box(other)):
                problems.append(f"titles {title.get_text()!r} and {other.get_text()!r} overlap")
        for _tick_ax, tick in ticks:
            if _overlap(tb, box(tick)):
                problems.append(f"title {title.get_text()!r} overlaps label {tick.get_text()!r}")
        for legend in legends:
            if _overlap(tb, legend.get_window_extent(renderer)):
                problems.append(f"title {title.get_text()!r} overlaps the legend")
    for legend in legends:
        lb = legend.get_window_extent(renderer)
        for ax in axes:
            if _overlap(lb, ax.bbox):
                problems.append("the legend covers a panel")

    for ax in axes:
        for text in ax.texts:
            if not _shown(text):
                continue
            b, frame = box(text), ax.bbox
            if b.x0 < frame.x0 - 1 or b.x1 > frame.x1 + 1:
                problems.append(f"value label {text.get_text()!r} sticks out of its panel")
        own = [t for t in ax.texts if _shown(t)]
        for i, a in enumerate(own):
            for b in own[i + 1 :]:
                if _overlap(box(a), box(b)):
                    problems.append(f"value labels {a.get_text()!r} and {b.get_text()!r} overlap")
    return problems


def version_ids(n: int) -> list[uuid.UUID]:
    return [uuid.UUID(int=i + 1) for i in range(n)]


def run_cells(
    versions: int,
    models: Sequence[str],
    *,
    cases: int = 3,
    repeats: int = 2,
    unpriced: Sequence[str] = (),
    failing_model: str | None = None,
    checked: bool = False,
) -> tuple[list[CellResult], dict[uuid.UUID, str]]:
    """A finished run's cells: every version x model x case x repeat, with times,
    tokens and costs that differ by model and case (so bars differ), no price for
    the ``unpriced`` models, and an error on every first case of ``failing_model``.
    ``checked`` gives every case an assertion that the even cases' answers break."""
    vids = version_ids(versions)
    labels = {
        v: (f"v{i + 1}" if i % 2 == 0 else f"draft {i + 1} ({v.hex[-6:]})")
        for i, v in enumerate(vids)
    }
    refs = [ModelRef.parse(m) for m in models]
    must = Assertion(type="contains", value="refund")
    cells = []
    for vi, vid in enumerate(vids):
        for mi, ref in enumerate(refs):
            for case in range(cases):
                for repeat in range(repeats):
                    ttft = 180.0 + 45 * mi + 20 * vi + 7 * case + 11 * repeat
                    failed = str(ref) == failing_model and case == 0
                    output = "a refund is on its way" if case % 2 else "we cannot help"
                    cells.append(
                        CellResult(
                            key=CellKey(version_id=vid, model=ref, case_index=case, repeat=repeat),
                            output="" if failed else output,
                            input_tokens=40 + case,
                            output_tokens=None if failed else 30 + 9 * mi + 3 * case,
                            cost_usd=None
                            if failed or ref.model in unpriced
                            else 0.00002 * (mi + 1) + 0.000001 * case,
                            ttft_ms=None if failed else ttft,
                            latency_ms=None if failed else ttft * 3.1 + 40 * case,
                            error="HTTP 500 from the server" if failed else None,
                            checks=(check(must, output),) if checked and not failed else (),
                        )
                    )
    return cells, labels
