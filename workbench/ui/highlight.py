"""Jinja syntax highlighting and problem marks for the template editors."""

from __future__ import annotations

import re

from PySide6.QtGui import (
    QColor,
    QFont,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit

_EXPR = re.compile(r"\{\{.*?\}\}")
_STMT = re.compile(r"\{%.*?%\}")
_COMMENT = re.compile(r"\{#.*?#\}")
_NAME = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
_KEYWORDS = frozenset(
    [
        "if",
        "elif",
        "else",
        "endif",
        "for",
        "endfor",
        "in",
        "not",
        "and",
        "or",
        "is",
        "set",
        "endset",
        "macro",
        "endmacro",
        "filter",
        "endfilter",
        "with",
        "endwith",
        "raw",
        "endraw",
        "true",
        "false",
        "none",
        "loop",
    ]
)


def _fmt(color: str, *, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(color))
    if bold:
        fmt.setFontWeight(QFont.Weight.DemiBold)
    fmt.setFontItalic(italic)
    return fmt


class JinjaHighlighter(QSyntaxHighlighter):
    """Colours ``{{ expressions }}``, ``{% statements %}``, ``{# comments #}`` and the
    variable names inside them (one line at a time: multi-line tags stay plain)."""

    def __init__(self, document: QTextDocument, dark: bool = False) -> None:
        super().__init__(document)
        self.set_dark(dark)

    def set_dark(self, dark: bool) -> None:
        self.dark = dark
        self.delim = _fmt("#c792ea" if dark else "#8e24aa", bold=True)
        self.stmt = _fmt("#82aaff" if dark else "#1565c0", bold=True)
        self.var = _fmt("#ffcb6b" if dark else "#b45309", bold=True)
        self.keyword = _fmt("#82aaff" if dark else "#1565c0")
        self.comment = _fmt("#7f8c98" if dark else "#78909c", italic=True)
        self.rehighlight()

    def highlightBlock(self, text: str) -> None:
        for m in _COMMENT.finditer(text):
            self.setFormat(m.start(), m.end() - m.start(), self.comment)
        for pattern, tag in ((_EXPR, self.delim), (_STMT, self.stmt)):
            for m in pattern.finditer(text):
                self.setFormat(m.start(), 2, tag)
                self.setFormat(m.end() - 2, 2, tag)
                inner = m.group(0)[2:-2]
                for n in _NAME.finditer(inner):
                    fmt = self.keyword if n.group(0) in _KEYWORDS else self.var
                    self.setFormat(m.start() + 2 + n.start(), n.end() - n.start(), fmt)


def mark_lines(editor: QPlainTextEdit, marks: list[tuple[int, str]]) -> None:
    """Mark 1-based lines: severity "error" gets a red band + wavy underline,
    "warning" an amber band."""
    selections = []
    doc = editor.document()
    for line, severity in marks:
        block = doc.findBlockByNumber(max(0, line - 1))
        if not block.isValid():
            continue
        sel = QTextEdit.ExtraSelection()
        color = QColor("#e53935") if severity == "error" else QColor("#f9a825")
        band = QColor(color)
        band.setAlpha(40)
        sel.format.setBackground(band)
        sel.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
        sel.format.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
        sel.format.setUnderlineColor(color)
        cursor = QTextCursor(block)
        cursor.clearSelection()
        sel.cursor = cursor
        selections.append(sel)
    editor.setExtraSelections(selections)


def monospace_font(size_delta: int = 0) -> QFont:
    font = QFont("DejaVu Sans Mono")
    font.setStyleHint(QFont.StyleHint.Monospace)
    font.setFixedPitch(True)
    if size_delta:
        font.setPointSize(max(6, font.pointSize() + size_delta))
    return font


__all__ = ["JinjaHighlighter", "mark_lines", "monospace_font"]
