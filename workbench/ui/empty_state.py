"""An empty state: what this place is for and buttons for the first steps.

Shown instead of a blank tree or an editor that only looks editable, so a new user
sees what to do next. Each button emits :attr:`EmptyState.requested` with its key."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

FIRST_STEPS = (
    ("samples", "Load sample prompts", "A few realistic prompts with versions and test cases"),
    ("new", "New prompt", "Create an empty prompt (Ctrl+N)"),
    ("provider", "Add a provider", "Settings: add the model provider and key you compare with"),
)


class EmptyState(QWidget):
    requested = Signal(str)
    """A first-step button was pressed: "samples", "new" or "provider"."""

    def __init__(self, title: str, text: str, steps: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.setObjectName("emptyState")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 24, 16, 24)
        layout.setSpacing(10)
        layout.addStretch(1)
        self.title = QLabel(title)
        self.title.setObjectName("emptyTitle")
        self.title.setWordWrap(True)
        self.title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.text = QLabel(text)
        self.text.setObjectName("emptyText")
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        self.buttons: dict[str, QPushButton] = {}
        for key, label, tip in FIRST_STEPS:
            if key not in steps:
                continue
            button = QPushButton(label)
            button.setToolTip(tip)
            button.setObjectName("primaryButton" if key == "samples" else "")
            button.clicked.connect(lambda _c=False, k=key: self.requested.emit(k))
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
            self.buttons[key] = button
        layout.addStretch(2)

    def set_message(self, title: str, text: str, steps: tuple[str, ...] | None = None) -> None:
        """Change the words and, when ``steps`` is given, which buttons show."""
        self.title.setText(title)
        self.text.setText(text)
        if steps is not None:
            for key, button in self.buttons.items():
                button.setVisible(key in steps)


__all__ = ["FIRST_STEPS", "EmptyState"]
