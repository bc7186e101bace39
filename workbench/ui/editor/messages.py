"""The editor's message list: the chat messages as cards in a scroll area, an "Add
message" button, and the problems that belong to no one message (settings errors,
template warnings about the prompt as a whole)."""

from __future__ import annotations

import html

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import TemplateError
from workbench.core.models import Message
from workbench.ui.editor.message_editor import MessageEditor
from workbench.ui.theme import current_theme


class MessageList(QWidget):
    """The messages, in order; ``changed`` fires on every edit, addition and removal.
    The last message cannot be removed."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._editors: list[MessageEditor] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.box = QWidget()
        self.box_layout = QVBoxLayout(self.box)
        self.box_layout.setContentsMargins(0, 0, 4, 0)
        self.box_layout.setSpacing(8)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.box)
        layout.addWidget(scroll, 1)
        add_row = QHBoxLayout()
        self.add_button = QPushButton("Add message")
        self.add_button.clicked.connect(lambda: self.add(Message(role="user", template="")))
        self.general_problems = QLabel()
        self.general_problems.setObjectName("problemLabel")
        self.general_problems.setWordWrap(True)
        add_row.addWidget(self.add_button)
        add_row.addWidget(self.general_problems, 1)
        layout.addLayout(add_row)

    @property
    def editors(self) -> list[MessageEditor]:
        return list(self._editors)

    def messages(self) -> tuple[Message, ...]:
        return tuple(ed.message() for ed in self._editors)

    def load(self, messages: tuple[Message, ...]) -> None:
        """Replace the cards with one per message (nothing focused, ``changed`` quiet)."""
        for ed in self._editors:
            ed.setParent(None)
            ed.deleteLater()
        self._editors = []
        while self.box_layout.count():
            self.box_layout.takeAt(0)
        for m in messages:
            self.add(m, edited=False)
        self.box_layout.addStretch(0)

    def add(self, message: Message, *, edited: bool = True) -> MessageEditor:
        """Append a card; ``edited``: the author added it (focus it, fire ``changed``)."""
        ed = MessageEditor(message)
        ed.changed.connect(self.changed)
        ed.remove_requested.connect(self._remove)
        index = len(self._editors)
        self._editors.append(ed)
        self.box_layout.insertWidget(index, ed)
        self._renumber()
        if edited:
            ed.text.setFocus()
            self.changed.emit()
        return ed

    @Slot(object)
    def _remove(self, ed: MessageEditor) -> None:
        if len(self._editors) <= 1:
            return
        self._editors.remove(ed)
        ed.setParent(None)
        ed.deleteLater()
        self._renumber()
        self.changed.emit()

    def _renumber(self) -> None:
        for i, ed in enumerate(self._editors):
            ed.title.setText(f"Message {i + 1}")
            ed.remove.setEnabled(len(self._editors) > 1)

    def show_problems(self, problems: list[TemplateError], build_error: str | None) -> None:
        """Mark each problem at its message; list the others (and ``build_error``) below."""
        by_message: dict[int, list[TemplateError]] = {}
        general: list[TemplateError] = []
        for p in problems:
            if p.message_index is None:
                general.append(p)
            else:
                by_message.setdefault(p.message_index, []).append(p)
        for i, ed in enumerate(self._editors):
            ed.show_problems(by_message.get(i, []))
        theme = current_theme()
        texts = [
            f"<span style='color:{theme.warning}'>{html.escape(p.message, quote=False)}</span>"
            for p in general
        ]
        if build_error:
            texts.insert(
                0,
                f"<span style='color:{theme.error}'>{html.escape(build_error, quote=False)}</span>",
            )
        self.general_problems.setText("<br>".join(texts))
