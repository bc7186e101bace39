"""Figures of a run, built on a matplotlib ``Figure`` (no pyplot, no Qt).

The desktop app draws them in ``FigureCanvasQTAgg``; the CLI and tests render them
with Agg (``workbench runs chart RUN -o run.png``). matplotlib is imported by the
caller, never here at import time: it costs about 0.9 s.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench.core.runs import CellResult, ModelRef, percentile

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")


def _groups(
    cells: Sequence[CellResult], labels: Mapping[uuid.UUID, str]
) -> list[tuple[str, list[CellResult]]]:
    grouped: dict[tuple[uuid.UUID, ModelRef], list[CellResult]] = {}
    for c in cells:
        grouped.setdefault((c.key.version_id, c.key.model), []).append(c)
    order = {v: i for i, v in enumerate(labels)}
    keys = sorted(grouped, key=lambda k: (order.get(k[0], 99), str(k[1])))
    out = []
    for vid, model in keys:
        name = "echo (not a model)" if model.profile == "echo" else model.model
        out.append((f"{labels.get(vid, vid.hex[:8])}\n{name}", grouped[(vid, model)]))
    return out


def draw_run(fig: Any, cells: Sequence[CellResult], labels: Mapping[uuid.UUID, str]) -> None:
    """Four panels: TTFT and latency (p50 bar, p50-p95 whisker, every call as a dot),
    cost per 1,000 calls, mean output tokens; one bar per version x model."""
    fig.clear()
    groups = _groups(cells, labels)
    axes = fig.subplots(2, 2)
    if not groups:
        for ax in axes.flat:
            ax.set_axis_off()
        fig.text(0.5, 0.5, "Run a comparison to see charts", ha="center", va="center")
        return
    names = [g[0] for g in groups]
    xs = list(range(len(groups)))
    colors = [PALETTE[i % len(PALETTE)] for i in xs]

    def timing(ax: Any, attr: str, title: str) -> None:
        p50s, lo, hi = [], [], []
        for i, (_name, group) in enumerate(groups):
            values = [
                getattr(c, attr) / 1000 for c in group if c.ok and getattr(c, attr) is not None
            ]
            p50 = percentile(values, 50) or 0.0
            p95 = percentile(values, 95) or 0.0
            p50s.append(p50)
            lo.append(0.0)
            hi.append(max(0.0, p95 - p50))
            jitter = [i + (k % 5 - 2) * 0.06 for k in range(len(values))]
            ax.scatter(jitter, values, s=9, color="#333333", alpha=0.45, zorder=3, linewidths=0)
        ax.bar(xs, p50s, color=colors, alpha=0.85, width=0.6, zorder=2)
        ax.errorbar(xs, p50s, yerr=[lo, hi], fmt="none", ecolor="#222222", capsize=4, zorder=4)
        ax.set_title(f"{title}  (bar p50, whisker p95)", fontsize=9, loc="left")
        ax.set_ylabel("seconds", fontsize=8)

    timing(axes[0][0], "ttft_ms", "Time to first token")
    timing(axes[0][1], "latency_ms", "Total latency")

    ax = axes[1][0]
    per_k = []
    for _name, group in groups:
        ok = [c for c in group if c.ok]
        costs = [c.cost_usd for c in ok]
        known = None if not ok or any(c is None for c in costs) else sum(c or 0 for c in costs)
        per_k.append(None if known is None else known / len(ok) * 1000)
    ax.bar(xs, [v or 0 for v in per_k], color=colors, alpha=0.85, width=0.6, zorder=2)
    for x, v in zip(xs, per_k, strict=True):
        text = "unknown" if v is None else f"${v:,.3f}"
        ax.annotate(text, (x, v or 0), ha="center", va="bottom", fontsize=7,
                    xytext=(0, 2), textcoords="offset points")  # fmt: skip
    ax.set_title("Cost per 1,000 calls (USD)", fontsize=9, loc="left")
    top = max((v or 0 for v in per_k), default=0)
    ax.set_ylim(0, top * 1.2 if top else 1)  # room for the value labels under the title

    ax = axes[1][1]
    means = []
    for _name, group in groups:
        outs = [c.output_tokens for c in group if c.ok and c.output_tokens is not None]
        means.append(sum(outs) / len(outs) if outs else 0)
    ax.bar(xs, means, color=colors, alpha=0.85, width=0.6, zorder=2)
    ax.set_title("Output tokens per call (mean)", fontsize=9, loc="left")

    for ax in axes.flat:
        ax.set_xticks(xs)
        ax.set_xticklabels(names, fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="y", alpha=0.3, zorder=0)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.tight_layout(pad=1.2, h_pad=1.6, w_pad=1.6)


def save_run_chart(
    path: Path, cells: Sequence[CellResult], labels: Mapping[uuid.UUID, str]
) -> None:
    """Render the run's figure to PNG or SVG (by the file's suffix) with Agg."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 7), dpi=110)
    FigureCanvasAgg(fig)
    draw_run(fig, cells, labels)
    fig.savefig(path)
