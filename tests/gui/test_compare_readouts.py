"""Compare as a person sees it: at real window sizes every readout and header is
whole, the add-model field is on screen, cancel leaves no cell "streaming…", panes
never show another prompt's or another run's results, the Cell tab shows what was
sent, the summary sorts with Version/Model in view."""

from __future__ import annotations

import json
import uuid

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QFont, QFontMetrics, QGuiApplication
from PySide6.QtWidgets import QApplication, QStyle

from tests.gui.conftest import engine_warm, two_versions
from tests.providerserver.server import ProviderServer
from workbench.core.assertions import Assertion
from workbench.core.models import Message, ModelDefaults, PromptContent, Variable
from workbench.core.runs import TestCase
from workbench.ui.cell_view import PAD_X
from workbench.ui.grid import CELL_ROLE, SORT_ROLE
from workbench.vault import Vault

pytestmark = pytest.mark.gui

MODELS = ["local:test-model", "local:test-model-2", "local:test-model-3"]
CASES = [
    TestCase(  # fails both checks in every cell: the "✘ 0/2" readout that used to be cut
        name="refund",
        values={"question": "Where is my refund?"},
        assertions=(
            Assertion(type="contains", value="never in the answer"),
            Assertion(type="max_latency_ms", value=0.0),
        ),
    ),
    TestCase(
        name="login",
        values={"question": "I cannot log in to my account"},
        assertions=(Assertion(type="contains", value="log in"),),
    ),
    TestCase(name="hours", values={"question": "When are you open?"}),
]


def _three_versions(vault: Vault) -> list[uuid.UUID]:
    two_versions(vault)
    third = PromptContent(
        messages=(
            Message(role="system", template="You are a support agent. Answer in one line."),
            Message(role="user", template="Question: {{ question }}"),
        ),
        model=ModelDefaults(temperature=0.1, max_tokens=200),
        variables=(Variable(name="question"),),
    )
    vault.commit("support/reply", third, "one line")
    vault.set_test_cases("support/reply", CASES)
    return [v.id for v in vault.history("support/reply")]


def _settle(qtbot) -> None:  # type: ignore[no-untyped-def]
    QApplication.processEvents()
    qtbot.wait(0)


def _open(qtbot, window, vault: Vault, size: tuple[int, int]) -> list[uuid.UUID]:  # type: ignore[no-untyped-def]
    ids = _three_versions(vault)
    window.resize(*size)
    window.browser.reload()
    window.browser.select("support/reply")
    window.tabs.setCurrentWidget(window.compare)
    _settle(qtbot)
    return ids


def _run_nine_columns(qtbot, window, server: ProviderServer, ids: list[uuid.UUID]):  # type: ignore[no-untyped-def]
    # Big token counts make the longest readout lines the app can show for these models.
    server.script("test-model", ttft=0.0, chunks=2, input_tokens=123_456, output_tokens=65_432)
    server.script("test-model-2", ttft=0.0, chunks=2)
    server.script("test-model-3", ttft=0.0, chunks=1, input_tokens=9, output_tokens=9_999)
    compare = window.compare
    compare.check_only(versions=ids, models=MODELS)
    engine_warm(qtbot, window)
    with qtbot.waitSignal(compare.run_finished, timeout=20_000) as done:
        qtbot.mouseClick(compare.setup.run_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    return done.args[0]


def _assert_every_readout_whole(compare) -> None:  # type: ignore[no-untyped-def]
    grid, model, delegate = compare.grid, compare.grid_model, compare.delegate
    checked = 0
    for row in range(model.rowCount()):
        for col in range(model.columnCount()):
            index = model.index(row, col)
            room = grid.visualRect(index).width() - 2 * PAD_X
            for text, font, _color in delegate.readout(index):
                width = QFontMetrics(font).horizontalAdvance(text)
                assert width <= room, f"{text!r} needs {width} px, the cell has {room}"
                assert "…" not in text or text in ("waiting…", "streaming…")
                checked += 1
    assert checked >= model.rowCount() * model.columnCount()


def _assert_headers_whole(compare) -> None:  # type: ignore[no-untyped-def]
    header = compare.grid.horizontalHeader()
    model = compare.grid_model
    bold = QFont(header.font())
    bold.setBold(True)  # the selected cell's column header is drawn bold
    fm = QFontMetrics(bold)
    margin = header.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header)
    for section in range(model.columnCount()):
        text = model.headerData(section, Qt.Orientation.Horizontal)
        for line in text.splitlines():
            assert fm.horizontalAdvance(line) <= header.sectionSize(section) - 2 * margin, line
    for section, column in enumerate(model.columns):
        title = model.headerData(section, Qt.Orientation.Horizontal)
        assert title.splitlines()[:2] == [column.version_label, str(column.model)]
        tip = model.headerData(section, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
        assert column.version_label in tip and str(column.model) in tip
    assert header.height() >= 2 * fm.height()  # both lines of a title are in view
    vertical = compare.grid.verticalHeader()
    vfm = QFontMetrics(vertical.font())
    assert vfm.horizontalAdvance("Column total") <= vertical.width() - 2 * margin


def test_nine_columns_at_1440_show_every_number_whole(  # type: ignore[no-untyped-def]
    qtbot, window, vault: Vault, server: ProviderServer
) -> None:
    ids = _open(qtbot, window, vault, (1440, 900))
    compare = window.compare
    qtbot.waitUntil(lambda: "12 calls" in compare.status.text(), timeout=5_000)  # pre-run line
    assert "unpriced" in compare.status.text()  # the test server's models have no price
    compare.check_only(versions=ids, models=MODELS)  # 3 x 3 x 3
    qtbot.waitUntil(lambda: "27 calls" in compare.status.text(), timeout=5_000)
    run = _run_nine_columns(qtbot, window, server, ids)
    assert run.status == "finished" and len(run.cells) == 27
    model = compare.grid_model
    assert len(model.columns) == 9 and len(model.rows) == 3
    _assert_every_readout_whole(compare)
    _assert_headers_whole(compare)
    refund = next(r for r, k in enumerate(model.rows) if k.title == "refund")
    lines = [t for t, _f, _c in compare.delegate.readout(model.index(refund, 0))]
    assert lines[0] == "✘ 0/2 checks" and lines[1].startswith("TTFT ")
    big = next(c for c, col in enumerate(model.columns) if col.model.model == "test-model")
    assert any(
        "123,456→65,432 tok" in t for t, _f, _c in compare.delegate.readout(model.index(0, big))
    )

    # Fit columns: the columns fill the width when the numbers leave room, and they
    # never get narrower than the numbers need.
    header = compare.grid.horizontalHeader()
    header.resizeSection(0, 60)  # a person drags a column too narrow
    qtbot.mouseClick(compare.tools.fit_button, Qt.MouseButton.LeftButton)
    _assert_every_readout_whole(compare)
    total = sum(header.sectionSize(c) for c in range(model.columnCount()))
    needs = sum(compare.sizer.needed_width(c) for c in range(model.columnCount()))
    assert total == max(needs, compare.grid.viewport().width())

    # Failures only: "login" and "hours" passed everywhere, "refund" failed everywhere.
    qtbot.mouseClick(compare.tools.failures_only, Qt.MouseButton.LeftButton)
    hidden = {model.rows[r].title for r in range(len(model.rows)) if compare.grid.isRowHidden(r)}
    assert hidden == {"login", "hours"}
    qtbot.mouseClick(compare.tools.failures_only, Qt.MouseButton.LeftButton)
    assert not any(compare.grid.isRowHidden(r) for r in range(len(model.rows)))


def test_summary_sorts_and_keeps_version_and_model_in_view(  # type: ignore[no-untyped-def]
    qtbot, window, vault: Vault, server: ProviderServer
) -> None:
    ids = _open(qtbot, window, vault, (1440, 900))
    _run_nine_columns(qtbot, window, server, ids)
    compare = window.compare
    compare.results.setCurrentWidget(compare.results.summary)
    _settle(qtbot)
    table, proxy = compare.results.summary, compare.results.summary_proxy
    header = table.horizontalHeader()
    assert proxy.rowCount() == 9
    assert not header.stretchLastSection()
    names = [proxy.headerData(c, Qt.Orientation.Horizontal) for c in range(proxy.columnCount())]
    cost = names.index("Cost")
    assert cost < 5 and names[:2] == ["Version", "Model"]
    right = header.sectionViewportPosition(cost) + header.sectionSize(cost)
    assert right <= table.viewport().width()  # Cost is on screen at 1440 px
    widest = max(header.sectionSize(c) for c in range(proxy.columnCount()))
    assert widest < 400  # no column stretched over the empty width

    # A person clicks "Latency p50": rows sort by the number, not by its text.
    latency = names.index("Latency p50")
    x = header.sectionViewportPosition(latency) + header.sectionSize(latency) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    values = [proxy.index(r, latency).data(SORT_ROLE) for r in range(proxy.rowCount())]
    assert values == sorted(values)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    values = [proxy.index(r, latency).data(SORT_ROLE) for r in range(proxy.rowCount())]
    assert values == sorted(values, reverse=True)

    # Scrolled fully to the right, Version and Model are still in view.
    table.resize(500, table.height())
    _settle(qtbot)
    table.horizontalScrollBar().setValue(table.horizontalScrollBar().maximum())
    _settle(qtbot)
    assert table.horizontalScrollBar().maximum() > 0
    frozen = table.frozen
    assert frozen.isVisible() and frozen.width() == table.frozen_width() > 0
    assert frozen.columnWidth(0) == table.columnWidth(0)
    assert frozen.model() is proxy and not frozen.isColumnHidden(1) and frozen.isColumnHidden(2)


def test_add_model_field_is_on_screen_at_1024x700(  # type: ignore[no-untyped-def]
    qtbot, window, vault: Vault
) -> None:
    _open(qtbot, window, vault, (1024, 700))
    compare = window.compare
    entry = compare.setup.model_entry
    assert entry.isVisible() and compare.setup.add_model_button.isVisible()
    top_left = entry.mapTo(window, QPoint(0, 0))
    assert window.rect().contains(top_left)
    assert window.rect().contains(top_left + QPoint(entry.width() - 1, entry.height() - 1))
    # Not hidden behind its parent's edge either: the whole field is painted.
    assert entry.visibleRegion().boundingRect().size() == entry.size()
    assert entry.height() >= entry.sizeHint().height()
    assert entry.width() >= entry.fontMetrics().horizontalAdvance("profile:model-name")
    qtbot.mouseClick(entry, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(entry, "local:typed-model")
    qtbot.keyClick(entry, Qt.Key.Key_Return)
    models = compare.setup.models_list
    added = [
        models.item(i)
        for i in range(models.count())
        if models.item(i).text() == "local:typed-model"
    ]
    assert added and added[0].checkState() == Qt.CheckState.Checked


def test_cancel_leaves_no_cell_streaming_or_waiting(  # type: ignore[no-untyped-def]
    qtbot, window, vault: Vault, server: ProviderServer
) -> None:
    ids = _open(qtbot, window, vault, (1440, 900))
    server.script("test-model", ttft=0.0, chunks=1)
    server.script("test-model-2", ttft=0.0, chunks=3, chunk_delay=30.0)  # streams, then stalls
    server.script("test-model-3", ttft=30.0, chunks=1)  # never starts
    compare = window.compare
    compare.check_only(versions=ids, models=MODELS)
    engine_warm(qtbot, window)
    qtbot.mouseClick(compare.setup.run_button, Qt.MouseButton.LeftButton)
    model = compare.grid_model
    qtbot.waitUntil(lambda: len(model.cells) >= 3 and len(model.stream) >= 1, timeout=10_000)
    texts = {model.index(r, c).data() for r in range(len(model.rows)) for c in range(9)}
    assert any(t.startswith("streaming…") for t in texts)  # the situation that was left behind
    with qtbot.waitSignal(compare.run_finished, timeout=10_000) as done:
        qtbot.mouseClick(compare.setup.cancel_button, Qt.MouseButton.LeftButton)
    assert done.args[0].status == "cancelled"
    _settle(qtbot)
    unfinished = 0
    for r in range(len(model.rows)):
        for c in range(len(model.columns)):
            index = model.index(r, c)
            text = index.data()
            assert not text.startswith(("streaming…", "waiting…")), text
            if index.data(CELL_ROLE) is None:
                unfinished += 1
                assert text == "cancelled"
                assert [t for t, _f, _c in compare.delegate.readout(index)] == ["cancelled"]
    assert unfinished >= 18  # the stalled and the never-started models
    _assert_every_readout_whole(compare)


def test_cell_pane_shows_what_was_sent_and_panes_clear(  # type: ignore[no-untyped-def]
    qtbot, window, vault: Vault, server: ProviderServer
) -> None:
    ids = _open(qtbot, window, vault, (1440, 900))
    run = _run_nine_columns(qtbot, window, server, ids)
    compare = window.compare
    model, grid = compare.grid_model, compare.grid
    newest = vault.history("support/reply")[-1]
    col = next(
        c
        for c, column in enumerate(model.columns)
        if column.version_id == newest.id and column.model.model == "test-model-2"
    )
    refund = next(r for r, k in enumerate(model.rows) if k.title == "refund")
    grid.scrollTo(model.index(refund, col))
    rect = grid.visualRect(model.index(refund, col))
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    compare.results.setCurrentWidget(compare.results.cell_view)
    cell = model.index(refund, col).data(CELL_ROLE)
    text = compare.results.cell_view.view.toPlainText()
    assert newest.display_number in compare.results.cell_view.title.text()
    assert "refund" in compare.results.cell_view.title.text()
    assert "Messages sent" in text and "Question: Where is my refund?" in text  # rendered
    assert "You are a support agent. Answer in one line." in text
    assert "question" in text and "Where is my refund?" in text  # the case's variable
    assert "total latency at most 0 ms" in text and "was " in text  # formatted, not 1040.53
    assert cell.output in text
    qtbot.mouseClick(compare.results.cell_view.copy_output, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == cell.output
    qtbot.mouseClick(compare.results.cell_view.copy_messages, Qt.MouseButton.LeftButton)
    assert json.loads(QGuiApplication.clipboard().text()) == [dict(m) for m in cell.rendered]
    # A cell that did not record its messages (an older run): rendered again from its
    # version with the engine's own function, and said so.
    compare.show_cell(cell.model_copy(update={"rendered": ()}))
    again = compare.results.cell_view.view.toPlainText()
    assert "Rendered again from the version" in again
    assert "Question: Where is my refund?" in again
    compare.results.cell_view.copy_messages.click()
    assert json.loads(QGuiApplication.clipboard().text()) == [dict(m) for m in cell.rendered]

    # Two cells of one row (Ctrl+click): a word diff named by the case.
    other = next(
        c
        for c, column in enumerate(model.columns)
        if column.version_id == ids[0] and column.model.model == "test-model-2"
    )
    rect2 = grid.visualRect(model.index(refund, other))
    grid.scrollTo(model.index(refund, other))
    rect2 = grid.visualRect(model.index(refund, other))
    qtbot.mouseClick(
        grid.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ControlModifier,
        rect2.center(),
    )
    assert compare.results.currentWidget() is compare.results.cell_diff
    diff_text = compare.results.cell_diff.toPlainText()
    assert "refund" in diff_text and "case 1" not in diff_text
    changed = [r for r in compare.results.cell_diff.rows if r.kind == "replace"]
    assert changed
    for row in changed:  # word marks: every mark starts and ends at a word boundary
        for text_, spans in ((row.left, row.left_spans), (row.right, row.right_spans)):
            assert text_ is not None
            for a, b in spans:
                assert a == 0 or not text_[a - 1].isalnum() or not text_[a].isalnum()
                assert b == len(text_) or not text_[b].isalnum() or not text_[b - 1].isalnum()

    # A new run: nothing of the last one is left in the Summary, Cell or Diff panes.
    assert compare.results.summary_model.rowCount() == 9
    server.script("test-model", ttft=0.0, chunks=1)
    server.script("test-model-2", ttft=30.0, chunks=1)
    compare.check_only(versions=ids[:1], models=MODELS[1:2])
    with qtbot.waitSignal(compare.controller.started, timeout=5_000):
        qtbot.mouseClick(compare.setup.run_button, Qt.MouseButton.LeftButton)
    assert compare.results.summary_model.rowCount() == 0
    assert compare.results.cell_view.view.toPlainText() == ""
    assert (
        compare.results.cell_diff.toPlainText() == ""
        and compare.results.cell_view.output_text == ""
    )
    with qtbot.waitSignal(compare.run_finished, timeout=10_000):
        qtbot.mouseClick(compare.setup.cancel_button, Qt.MouseButton.LeftButton)

    # Another prompt: the grid, summary and charts no longer show support/reply's run.
    two_versions(vault, "sales/pitch")
    window.browser.reload()
    window.browser.select("sales/pitch")
    _settle(qtbot)
    assert compare.prompt == "sales/pitch"
    assert model.rowCount() == 0 and model.columnCount() == 0
    assert compare.results.summary_model.rowCount() == 0 and compare.results.charts.cells == []
    assert compare.last_run is None and run.id


def test_pre_run_line_counts_calls_and_unpriced_ones(  # type: ignore[no-untyped-def]
    qtbot, window, vault: Vault
) -> None:
    ids = _open(qtbot, window, vault, (1440, 900))
    compare = window.compare
    compare.check_only(versions=ids[:2], models=["echo:echo", "local:test-model"])
    # echo is priced ($0); the test server's model has no price: its 6 calls are named.
    # The line before the ticks' (debounced) estimate said "12 calls" too, for the
    # default models: wait for the one that no longer names test-model-2.
    qtbot.waitUntil(
        lambda: "12 calls" in compare.status.text() and "test-model-2" not in compare.status.text(),
        timeout=5_000,
    )
    assert compare.status.text().startswith("12 calls, ≈ $0 (6 unpriced: local:test-model)")
    compare.check_only(models=[])
    qtbot.waitUntil(lambda: "Not ready" in compare.status.text(), timeout=5_000)
    assert "no model is ticked" in compare.status.text()
