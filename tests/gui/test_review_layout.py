"""The review queue at 1024x700, as a reviewer sees it: the State column is on screen
(Message and Author give way first), prompt names elide with their tooltip whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.gui.people import activate, click_tab
from tests.gui.test_sync_ui import author_pushes, open_window, registry  # noqa: F401
from tests.server.conftest import RunningRegistry

pytestmark = pytest.mark.gui


def test_state_column_is_on_screen_at_1024(
    qtbot: Any,
    tmp_path: Path,
    registry: RunningRegistry,  # noqa: F811
    open_window: Any,  # noqa: F811
) -> None:
    _v1, v2 = author_pushes(tmp_path, registry)
    win = open_window("bob", registry.url, registry.tokens["bob"])
    win.resize(1024, 700)
    click_tab(win, "Review")
    review = win.review
    qtbot.waitUntil(lambda: review.select(v2.id), timeout=10_000)
    qtbot.waitUntil(lambda: review.table.viewport().width() > 0)
    header = review.table.horizontalHeader()
    state = review.table.HEADERS.index("State")
    assert not review.table.isColumnHidden(state)
    right = header.sectionViewportPosition(state) + header.sectionSize(state)
    assert right <= review.table.viewport().width(), "State runs past the queue's edge"
    assert review.table.horizontalScrollBar().maximum() == 0
    text = review.table.item(0, state).text()
    assert header.sectionSize(state) >= review.table.fontMetrics().horizontalAdvance(text)


def test_prompt_names_are_whole_at_1024(
    qtbot: Any,
    tmp_path: Path,
    registry: RunningRegistry,  # noqa: F811
    open_window: Any,  # noqa: F811
) -> None:
    """At 1024 px a reviewer reads every queued prompt's whole name, folder first
    ("billing/" over "invoice-summary" when it wraps), never "…nts/triage"."""
    from PySide6.QtCore import QRect, Qt

    from tests.gui.test_sync_ui import content
    from workbench.registry.sync import Syncer
    from workbench.vault import Vault

    names = ("agents/triage", "billing/invoice-summary", "customer-success/renewal-reminder")
    with Vault.open(tmp_path / "alice-names.sqlite3", create=True, actor="alice") as alice:
        for name in names:
            alice.commit(name, content("Hello {{ name }}"), "first")
        Syncer(alice, registry.client("alice")).sync()
    win = open_window("bob", registry.url, registry.tokens["bob"])
    win.resize(1024, 700)
    click_tab(win, "Review")
    review = win.review
    qtbot.waitUntil(lambda: review.table.rowCount() == len(names), timeout=10_000)
    qtbot.waitUntil(lambda: review.table.viewport().width() > 0)
    review.table.fit_columns()
    table, header = review.table, review.table.horizontalHeader()
    metrics = table.fontMetrics()
    width = header.sectionSize(0) - 2 * metrics.horizontalAdvance("x")
    shown = [table.item(r, 0).text() for r in range(table.rowCount())]
    assert sorted(shown) == sorted(names)
    for row, name in enumerate(shown):
        for part in name.replace("-", "/").split("/"):  # no word of it is cut
            assert metrics.horizontalAdvance(part + "/") <= width, (name, width)
        wrapped = metrics.boundingRect(
            QRect(0, 0, width, 10_000), int(Qt.TextFlag.TextWordWrap), name
        )
        assert wrapped.height() <= table.rowHeight(row), f"{name!r} is cut"
        assert table.item(row, 0).toolTip() == name
    state = review.table.HEADERS.index("State")
    right = header.sectionViewportPosition(state) + header.sectionSize(state)
    assert right <= table.viewport().width(), "State runs past the queue's edge"
    assert table.horizontalScrollBar().maximum() == 0


def test_evidence_numbers_never_break_across_lines(qtbot: Any) -> None:
    """Laid out at its narrowest, which leaves a 1024 px window's queue its State
    column, every number cell of the evidence ("524 ms", "67% (2/3)", "213 / 123") is
    one line; names may wrap."""
    import uuid
    from datetime import UTC, datetime

    from PySide6.QtCore import Qt
    from PySide6.QtGui import QTextDocument, QTextOption, QTextTable
    from PySide6.QtWidgets import QLabel

    from workbench.app.evidence import EvidenceReport, RunEvidence
    from workbench.core.runs import ModelRef, SummaryRow
    from workbench.ui.review import evidence_html

    def row(model: str) -> SummaryRow:
        return SummaryRow(
            version_id=uuid.uuid4(), model=ModelRef.parse(model), calls=3, errors=0,
            passed=2, failed=1, checked=3, cached=0, ttft_p50_ms=524.0, ttft_p95_ms=600.0,
            latency_p50_ms=900.0, latency_p95_ms=1040.0, input_tokens=213, output_tokens=123,
            tokens_estimated=False, cost_usd=0.00066, cost_per_1k_calls_usd=0.22, echo=False,
        )  # fmt: skip

    rows = (row("anthropic:claude-3-5-haiku-latest"), row("openai:gpt-4o-mini"))
    evidence = RunEvidence(uuid.uuid4(), datetime.now(UTC), "finished", 6, 6, rows)
    text = evidence_html(EvidenceReport(chosen=evidence))
    label = QLabel(text)  # as the Review tab shows it
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    # Narrow enough to leave the queue its State column beside it at 1024 px.
    width = label.minimumSizeHint().width()
    assert width <= 510
    doc = QTextDocument()
    doc.setDefaultFont(label.font())
    doc.setDocumentMargin(0)  # as a label lays it out
    words = QTextOption()
    words.setWrapMode(QTextOption.WrapMode.WordWrap)  # a label breaks lines between words
    doc.setDefaultTextOption(words)
    doc.setHtml(text)
    doc.setTextWidth(width)
    assert doc.size().width() <= width  # lays the whole document out
    table = next(f for f in doc.rootFrame().childFrames() if isinstance(f, QTextTable))
    assert table.rows() == 3
    for r in range(1, table.rows()):
        for c in range(1, table.columns()):
            block = table.cellAt(r, c).firstCursorPosition().block()
            text = block.text()
            assert block.layout().lineCount() == 1, f"{text!r} breaks across lines"


def test_a_copied_model_id_is_the_id_itself(
    qtbot: Any,
    tmp_path: Path,
    registry: RunningRegistry,  # noqa: F811
    open_window: Any,  # noqa: F811
) -> None:
    """The evidence lets a long id wrap after its profile with a zero-width space; a
    reviewer who selects the evidence and presses Ctrl+C pastes the plain id."""
    import uuid
    from datetime import UTC, datetime

    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QTextDocument
    from PySide6.QtTest import QTest

    from workbench.app.evidence import EvidenceReport, RunEvidence
    from workbench.core.runs import ModelRef, SummaryRow
    from workbench.ui.review import evidence_html

    row = SummaryRow(
        version_id=uuid.uuid4(), model=ModelRef.parse("anthropic:claude-3-5-haiku-latest"),
        calls=3, errors=0, passed=3, failed=0, checked=3, cached=0, ttft_p50_ms=524.0,
        ttft_p95_ms=600.0, latency_p50_ms=900.0, latency_p95_ms=1040.0, input_tokens=213,
        output_tokens=123, tokens_estimated=False, cost_usd=0.00066,
        cost_per_1k_calls_usd=0.22, echo=False,
    )  # fmt: skip
    win = open_window("bob", registry.url, registry.tokens["bob"])
    click_tab(win, "Review")
    evidence = win.review.evidence
    report = EvidenceReport(
        chosen=RunEvidence(uuid.uuid4(), datetime.now(UTC), "finished", 3, 3, (row,))
    )
    evidence.setText(evidence_html(report))
    assert "\u200b" in evidence.text() or "&#8203;" in evidence.text()  # it can wrap there
    activate(qtbot, win)
    evidence.setFocus()
    shown = QTextDocument()
    shown.setHtml(evidence.text())
    evidence.setSelection(0, len(shown.toPlainText()))  # as a drag across it selects
    assert "\u200b" in evidence.selectedText()
    QTest.keyClick(evidence, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    copied = QGuiApplication.clipboard().text()
    assert "anthropic:claude-3-5-haiku-latest" in copied
    assert "\u200b" not in copied
