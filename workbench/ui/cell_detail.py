"""The Cell tab: one cell's output, readouts, checks and messages, and the diff of two
cells' outputs."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from workbench.core.diff_views import text_diff_rows
from workbench.core.runs import CellResult, TestCase
from workbench.ui.cell_view import status_colors
from workbench.ui.format import fmt_ms, fmt_tokens, fmt_usd
from workbench.ui.history import DiffView
from workbench.ui.readouts import describe_check


class OutputDiffView(DiffView):
    """Two cells' answers side by side, changed words marked (the history view's
    colours and theme handling, a word diff instead of a character diff)."""

    def show_outputs(self, old: str, new: str, left: str, right: str) -> None:
        if old == new:
            self.setHtml(
                f"<p><b>{html.escape(left)}</b> and <b>{html.escape(right)}</b> "
                "gave the same answer.</p>"
            )
            return
        self.rows = text_diff_rows(old, new)
        self._titles = (left, right)
        self._render()


class CellDetail(QWidget):
    """Everything about one cell: its numbers, checks, the case's variables, the
    exact messages sent, the answer and any error, with copy buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.output_text = ""
        self.messages_text = ""
        self._shown: tuple[CellResult, TestCase | None, list[Mapping[str, str]], str] | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        bar = QHBoxLayout()
        self.title = QLabel("Select a cell to see its whole output and every number.")
        self.title.setObjectName("dimLabel")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_output = QPushButton("Copy output")
        self.copy_output.setToolTip("Copy the whole answer to the clipboard")
        self.copy_output.clicked.connect(lambda: self._copy(self.output_text))
        self.copy_messages = QPushButton("Copy messages")
        self.copy_messages.setToolTip("Copy the messages that were sent, as JSON")
        self.copy_messages.clicked.connect(lambda: self._copy(self.messages_text))
        bar.addWidget(self.title, 1)
        bar.addWidget(self.copy_messages)
        bar.addWidget(self.copy_output)
        layout.addLayout(bar)
        self.view = QTextBrowser()
        self.view.setObjectName("cellDetail")
        self.view.setOpenLinks(False)
        layout.addWidget(self.view, 1)
        self.clear()

    def clear(self) -> None:
        self._shown = None
        self.title.setText("Select a cell to see its whole output and every number.")
        self.view.clear()
        self.output_text = self.messages_text = ""
        self.copy_output.setEnabled(False)
        self.copy_messages.setEnabled(False)

    def _copy(self, text: str) -> None:
        QGuiApplication.clipboard().setText(text)

    def show_cell(
        self,
        name: str,
        cell: CellResult,
        case: TestCase | None,
        messages: Sequence[Mapping[str, str]],
        messages_note: str = "",
    ) -> None:
        self.title.setText(name)
        self.output_text = cell.output
        self.messages_text = json.dumps(list(messages), indent=1, ensure_ascii=False)
        self.copy_output.setEnabled(bool(cell.output))
        self.copy_messages.setEnabled(bool(messages))
        self._shown = (cell, case, list(messages), messages_note)
        self._render()

    def _render(self) -> None:
        if self._shown is not None:
            self.view.setHtml(cell_detail_html(*self._shown, self.view.palette()))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange):
            self._render()  # its pass/fail colours follow the theme


def _pre(text: str) -> str:
    return (
        "<pre style='white-space:pre-wrap; margin:2px 0 8px 0'>"
        f"{html.escape(text) if text else '<i>(empty)</i>'}</pre>"
    )


def _rows(pairs: Sequence[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><td style='padding-right:16px'>{html.escape(k)}</td>"
        f"<td><code>{html.escape(v)}</code></td></tr>"
        for k, v in pairs
    )
    return f"<table cellspacing='0' cellpadding='1'>{cells}</table>"


def cell_detail_html(
    cell: CellResult,
    case: TestCase | None,
    messages: Sequence[Mapping[str, str]],
    messages_note: str = "",
    palette: QPalette | None = None,
) -> str:
    """The Cell tab: sections a person reads top to bottom, every number formatted."""
    red, green, _blue = status_colors(palette or QGuiApplication.palette())
    source = cell.price_source.removeprefix("unknown: ").removeprefix("unknown")
    parts: list[str] = []
    numbers = [
        ("time to first token", fmt_ms(cell.original_ttft_ms if cell.cached else cell.ttft_ms)),
        ("total latency", fmt_ms(cell.original_latency_ms if cell.cached else cell.latency_ms)),
        ("tokens in", fmt_tokens(cell.input_tokens, cell.tokens_estimated)),
        ("tokens out", fmt_tokens(cell.output_tokens, cell.tokens_estimated)),
        ("cost", fmt_usd(cell.cost_usd) + (f" ({source})" if source else "")),
        ("finish reason", cell.finish_reason or "–"),
    ]
    if cell.tokens_estimated:
        numbers.append(("", "~ tokens are estimated: the provider did not report them"))
    if cell.cached:
        numbers.append(("from the cache", f"this call took {fmt_ms(cell.latency_ms)}"))
    if cell.answered_by:
        numbers.append(
            ("answered by", f"{cell.answered_by} ({cell.fallback_reason or 'fallback'})")
        )
    if cell.retries:
        numbers.append(
            ("retries", "; ".join(f"{r.reason} (waited {r.wait_s:.1f} s)" for r in cell.retries))
        )
    if cell.echo:
        numbers.append(("echo", "not a real model: its numbers measure this machine"))
    parts.append("<h4>Readouts</h4>" + _rows(numbers))
    if cell.checks:
        held = sum(1 for c in cell.checks if c.passed)
        items = "".join(
            f"<li style='color:{green if c.passed else red}'>"
            f"{html.escape(describe_check(c, cell))}</li>"
            for c in cell.checks
        )
        parts.append(f"<h4>Checks: {held} of {len(cell.checks)} held</h4><ul>{items}</ul>")
    if not cell.ok:
        parts.append(
            f"<h4 style='color:{red}'>Error ({html.escape(cell.error_kind or 'failed')})</h4>"
            + _pre(cell.error or "")
        )
    values = case.values if case is not None else {}
    parts.append(
        "<h4>Variables of the case</h4>"
        + (
            _rows(
                [
                    (k, json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v)
                    for k, v in values.items()
                ]
            )
            if values
            else "<p><i>none: the prompt's defaults were used</i></p>"
        )
    )
    parts.append("<h4>Messages sent</h4>")
    if messages_note:
        parts.append(f"<p><i>{html.escape(messages_note)}</i></p>")
    for m in messages:
        parts.append(f"<b>{html.escape(m.get('role', '?'))}</b>" + _pre(m.get("content", "")))
    if cell.ok:
        parts.append("<h4>Output</h4>" + _pre(cell.output))
    return "".join(parts)
