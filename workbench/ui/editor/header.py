"""The editor's head: the prompt's name, the version the edits build on, and the
banner that says the shown edits came from a draft (with "Discard edits")."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from workbench.core.models import PromptVersion


class EditorHeader(QWidget):
    """Title, base version and draft banner; ``discard_requested``: "Discard edits"."""

    discard_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        head = QHBoxLayout()
        self.title = QLabel()
        self.title.setObjectName("promptTitle")
        self.base_label = QLabel()
        self.base_label.setObjectName("dimLabel")
        head.addWidget(self.title)
        head.addWidget(self.base_label)
        head.addStretch(1)
        layout.addLayout(head)
        self.banner = QFrame()
        self.banner.setObjectName("draftBanner")
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.setContentsMargins(10, 4, 6, 4)
        self.banner_text = QLabel()
        self.discard_button = QPushButton("Discard edits")
        self.discard_button.clicked.connect(self.discard_requested)
        banner_layout.addWidget(self.banner_text, 1)
        banner_layout.addWidget(self.discard_button)
        self.banner.hide()
        layout.addWidget(self.banner)

    def show_none(self) -> None:
        """No prompt is open."""
        self.title.setText("No prompt selected")
        self.base_label.setText("")

    def show_base(self, base: PromptVersion | None) -> None:
        """The version the edits build on (None: a new prompt)."""
        if base is None:
            self.base_label.setText("new prompt: no versions yet")
        else:
            self.base_label.setText(
                f"editing on top of {base.display_number} · {base.author} · "
                f"{base.created_at:%Y-%m-%d %H:%M}"
            )

    def show_note(self, note: str | None) -> None:
        """The banner with ``note`` (e.g. "restored from a draft"); None hides it."""
        self.banner_text.setText(note or "")
        self.banner.setVisible(bool(note))
