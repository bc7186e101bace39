"""The spending chart stays readable at 25 rows, light and dark: no label overlaps
or is cut, and every bar's figure follows the money rule."""

from __future__ import annotations

import pytest

from tests.chartcheck import layout_problems
from workbench.charts.cost_charts import draw_cost_chart, money_label
from workbench.charts.theme import DARK, LIGHT, ChartTheme
from workbench.core.money import CostTotal


def rows(n: int) -> list[tuple[str, CostTotal]]:
    out = []
    for i in range(n):
        name = f"provider-{i}:a-model-with-a-rather-long-name-{i}-2025-preview"
        if i % 7 == 3:
            cost = CostTotal(0.0, 0, 12)  # nothing priced: unknown
        elif i % 5 == 2:
            cost = CostTotal(0.5 / (i + 1), 40, 3)  # a floor
        else:
            cost = CostTotal(1.7 / (i + 1), 100, 0)
        out.append((name, cost))
    return out


@pytest.mark.parametrize("width_in", [6.5, 9.0, 16.0], ids=["narrow", "export", "wide"])
@pytest.mark.parametrize("theme", [LIGHT, DARK], ids=["light", "dark"])
def test_twenty_five_groups_read_cleanly(theme: ChartTheme, width_in: float) -> None:
    fig = draw_cost_chart(
        rows(25), "Spending by model: ≥ $4.21, 24 calls unpriced", theme, width_in
    )
    assert layout_problems(fig) == []
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.texts]
    assert "unknown" in labels
    assert any(t.startswith("≥ $") and t.endswith("3 unpriced") for t in labels)
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert len(ticks) == 25 and all(len(t) <= 34 for t in ticks) and "…" in ticks[0]
    assert fig.get_facecolor()[:3] == pytest.approx(
        tuple(int(theme.background[i : i + 2], 16) / 255 for i in (1, 3, 5))
    )


@pytest.mark.parametrize("width_in", [6.5, 9.0])
def test_tiny_costs_keep_their_axis_readable(width_in: float) -> None:
    """Fractions of a cent make long tick labels ("$0.00300"): they must not overprint."""
    tiny = [("openai:gpt-4o", CostTotal(0.00423, 9, 0)),
            ("anthropic:claude-3-5-haiku-latest", CostTotal(0.00199, 9, 0)),
            ("openai:gpt-4o-mini", CostTotal(0.000292, 9, 0))]  # fmt: skip
    fig = draw_cost_chart(tiny, "Spending by model, all time: $0.0065", LIGHT, width_in)
    assert layout_problems(fig) == []


def test_money_labels_never_hide_unpriced_calls() -> None:
    assert money_label(CostTotal(0.0123, 3, 0)) == "$0.0123"
    assert money_label(CostTotal(0.0123, 3, 2)) == "≥ $0.0123, 2 unpriced"
    assert money_label(CostTotal(0.0, 0, 5)) == "unknown"
