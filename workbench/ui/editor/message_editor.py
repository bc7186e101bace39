"""One chat message in the editor: its role, its Jinja template (highlighted), and the
problems found in it, shown under the text."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
)

from workbench.core.errors import TemplateError
from workbench.core.models import Message
from workbench.ui.highlight import JinjaHighlighter, mark_lines, monospace_font
from workbench.ui.theme import current_theme

ROLES = ("system", "user", "assistant")


class MessageEditor(QFrame):
    """One chat message: a role and a Jinja template, with its problems under it."""

    changed = Signal()
    remove_requested = Signal(object)

    def __init__(self, message: Message) -> None:
        super().__init__()
        self.setObjectName("messageCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.setSpacing(4)
        head = QHBoxLayout()
        self.title = QLabel()
        self.title.setObjectName("messageTitle")
        self.role = QComboBox()
        self.role.addItems(ROLES)
        self.role.setCurrentText(message.role)
        self.role.setAccessibleName("Role")
        self.remove = QToolButton()
        self.remove.setText("Remove")
        self.remove.setToolTip("Remove this message")
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self))
        head.addWidget(self.title)
        head.addWidget(self.role)
        head.addStretch(1)
        head.addWidget(self.remove)
        layout.addLayout(head)
        self.text = QPlainTextEdit(message.template)
        self.text.setObjectName("templateEdit")
        self.text.setFont(monospace_font())
        self.text.setTabChangesFocus(True)
        self.text.setMinimumHeight(72)
        self.text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.highlighter = JinjaHighlighter(self.text.document(), current_theme().dark)
        layout.addWidget(self.text, 1)
        self.problems = QLabel()
        self.problems.setObjectName("problemLabel")
        self.problems.setWordWrap(True)
        self.problems.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problems.hide()
        layout.addWidget(self.problems)
        self.text.textChanged.connect(self.changed)
        self.role.currentTextChanged.connect(self.changed)

    def message(self) -> Message:
        return Message(role=self.role.currentText(), template=self.text.toPlainText())

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            dark = current_theme().dark
            if dark != self.highlighter.dark:
                self.highlighter.set_dark(dark)

    def show_problems(self, problems: list[TemplateError]) -> None:
        mark_lines(self.text, [(p.line, p.severity) for p in problems if p.line is not None])
        if not problems:
            self.problems.hide()
            return
        lines = []
        for p in problems:
            theme = current_theme()
            color = theme.error if p.severity == "error" else theme.warning
            where = f"Line {p.line}: " if p.line is not None else ""
            lines.append(
                f"<span style='color:{color}'><b>{p.severity.title()}</b> "
                f"{html.escape(where + p.detail, quote=False)}</span>"
            )
        self.problems.setText("<br>".join(lines))
        self.problems.show()
