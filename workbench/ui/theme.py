"""Light and dark themes on the Fusion style; "system" follows the desktop's scheme."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

QSS_PATH = Path(__file__).resolve().parents[2] / "resources" / "workbench.qss"


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def _dark_palette() -> QPalette:
    p = QPalette()
    window, base, text = QColor("#20242b"), QColor("#181b20"), QColor("#e6e9ef")
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: QColor("#1e2228"),
        QPalette.ColorRole.ToolTipBase: QColor("#2b3038"),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: QColor("#2a2f37"),
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.Highlight: QColor("#3d6fb6"),
        QPalette.ColorRole.HighlightedText: QColor("#ffffff"),
        QPalette.ColorRole.PlaceholderText: QColor("#8a93a0"),
        QPalette.ColorRole.Link: QColor("#82aaff"),
        QPalette.ColorRole.Mid: QColor("#3a404a"),
    }
    for role, color in roles.items():
        p.setColor(role, color)
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.WindowText,
    ):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7380"))
    return p


def _light_palette() -> QPalette:
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: QColor("#f4f5f7"),
        QPalette.ColorRole.WindowText: QColor("#1d232b"),
        QPalette.ColorRole.Base: QColor("#ffffff"),
        QPalette.ColorRole.AlternateBase: QColor("#f7f8fa"),
        QPalette.ColorRole.Text: QColor("#1d232b"),
        QPalette.ColorRole.Button: QColor("#eceef2"),
        QPalette.ColorRole.ButtonText: QColor("#1d232b"),
        QPalette.ColorRole.Highlight: QColor("#2f6fd0"),
        QPalette.ColorRole.HighlightedText: QColor("#ffffff"),
        QPalette.ColorRole.PlaceholderText: QColor("#8a93a0"),
    }
    for role, color in roles.items():
        p.setColor(role, color)
    return p


def apply_theme(app: QApplication, theme: str) -> bool:
    """Apply "light", "dark" or "system"; returns whether the result is dark."""
    app.setStyle("Fusion")
    dark = system_is_dark() if theme == "system" else theme == "dark"
    app.setPalette(_dark_palette() if dark else _light_palette())
    qss = QSS_PATH.read_text("utf-8") if QSS_PATH.exists() else ""
    app.setStyleSheet(qss.replace("@dim", "#8a93a0" if dark else "#6b7380"))
    app.setProperty("workbench_dark", dark)
    return dark
