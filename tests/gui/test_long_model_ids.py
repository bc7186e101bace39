"""Long model ids ("anthropic:claude-3-5-sonnet-20241022") as a person reads them:
whole where the window has room, else elided in the middle (the profile and the
distinguishing end both stay) with the whole id in the tooltip."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QAbstractItemView, QStyle

from tests.gui.people import (
    check_item,
    click,
    click_tab,
    field_with_placeholder,
    resize_window,
)

LONG = "anthropic:claude-3-5-sonnet-20241022"


def shown_text(view: QAbstractItemView, text: str, width: int) -> str:
    """What the view draws of ``text`` in ``width`` pixels (its own elide mode)."""
    margin = view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1
    return QFontMetrics(view.font()).elidedText(text, view.textElideMode(), width - 2 * margin)


def log_row(model: str, case: str) -> dict[str, Any]:
    profile, name = model.split(":", 1)
    return {
        "at": "2026-12-04T15:25:25+00:00", "prompt": "support/reply", "version": "v1",
        "profile": profile, "model": name, "case": case, "input_tokens": 71,
        "output_tokens": 41, "ok": True, "cost_usd": 0.00066, "ttft_ms": 521.0,
        "latency_ms": 978.0, "cached": False, "error": None, "error_kind": None,
        "retries": [], "checks": 1, "checks_passed": 1, "kind": "cell",
    }  # fmt: skip


def test_log_model_column_reads_whole_when_there_is_room(qtbot: Any, window: Any) -> None:
    click_tab(window, "Log")
    log = window.log_panel
    rows = [log_row(LONG, "refund"), log_row("openai:gpt-4o-mini", "login")]
    header = log.table.horizontalHeader()
    model_col = log.model.HEADERS.index("Model")
    for width, whole in ((1440, True), (1024, False)):
        resize_window(qtbot, window, width, 900)
        log.model.set_rows(rows)
        log.column_fitter.fit()
        shown = shown_text(log.table, LONG, header.sectionSize(model_col))
        if whole:
            assert shown == LONG, f"at {width} px the model id reads {shown!r}"
        else:  # narrow: the profile and the date both stay, the tooltip is whole
            assert (shown.startswith("anthropic:") and shown.endswith("1022")) or shown == LONG
        assert log.model.index(0, model_col).data(Qt.ItemDataRole.ToolTipRole) == LONG
        # every readout is whole at any width
        for name in ("Tokens", "Cost", "TTFT", "Total"):
            col = log.model.HEADERS.index(name)
            text = log.model.index(0, col).data()
            assert shown_text(log.table, text, header.sectionSize(col)) == text, (width, name)
        right = header.sectionViewportPosition(header.count() - 1) + header.sectionSize(
            header.count() - 1
        )
        assert right <= log.table.viewport().width(), "the table scrolls sideways"


def test_compare_models_list_keeps_both_ends_of_a_long_id(qtbot: Any, window: Any) -> None:
    resize_window(qtbot, window, 1024, 700)
    click_tab(window, "Compare")
    compare = window.compare
    entry = field_with_placeholder(compare, "profile:model")
    qtbot.keyClicks(entry, LONG)
    click(compare, "Add")
    item = check_item(compare.setup.models_list, LONG)
    assert item.toolTip().splitlines()[0] == LONG
    lst = compare.setup.models_list
    width = lst.visualItemRect(item).width() - lst.style().pixelMetric(
        QStyle.PixelMetric.PM_IndicatorWidth, None, lst
    )
    shown = shown_text(lst, LONG, width)
    assert shown == LONG or (shown.startswith("anthropic:") and shown.endswith("1022")), shown
    resize_window(qtbot, window, 1440, 900)
    qtbot.waitUntil(lambda: lst.visualItemRect(item).width() > width)
    wide = lst.visualItemRect(item).width() - lst.style().pixelMetric(
        QStyle.PixelMetric.PM_IndicatorWidth, None, lst
    )
    assert shown_text(lst, LONG, wide - 8) == LONG  # whole at 1440
