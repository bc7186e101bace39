"""Light and dark themes on the Fusion style; "system" follows the desktop's scheme.

One :class:`Theme` per scheme holds every colour the app draws with. It becomes
the application's ``QPalette`` (all three colour groups, so disabled widgets are
greyed by the style itself and charts, which read the palette, follow the theme),
the stylesheet's ``@name`` placeholders (``resources/workbench.qss``) and the
colours of HTML views such as the diff (:func:`current_theme`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from workbench.assets import resource

QSS_PATH = resource("workbench.qss")  # checkout, wheel or frozen build: workbench.assets
CHECK_MARK_NAME = "check.svg"
"""The tick of a checked box, beside the stylesheet."""


@dataclass(frozen=True)
class Theme:
    """Every colour of one scheme, as ``#rrggbb``."""

    dark: bool
    window: str
    base: str
    alternate_base: str
    text: str
    button: str
    highlight: str
    highlighted_text: str
    placeholder: str
    link: str
    mid: str
    dim: str
    tooltip_base: str
    disabled_text: str
    disabled_base: str
    disabled_button: str
    indicator_border: str
    error: str
    warning: str
    # diff views
    diff_text: str
    diff_del_bg: str
    diff_ins_bg: str
    diff_del_mark: str
    diff_ins_mark: str
    diff_head_bg: str
    diff_lineno: str


LIGHT = Theme(
    dark=False,
    window="#f4f5f7",
    base="#ffffff",
    alternate_base="#f7f8fa",
    text="#1d232b",
    button="#eceef2",
    highlight="#2f6fd0",
    highlighted_text="#ffffff",
    placeholder="#8a93a0",
    link="#1f5fbf",
    mid="#c5cad3",
    dim="#5f6876",
    tooltip_base="#ffffdc",
    disabled_text="#9aa1ab",
    disabled_base="#e9ebef",
    disabled_button="#e4e6ea",
    indicator_border="#7d8692",
    error="#c62828",
    warning="#9a5b00",
    diff_text="#1d232b",
    diff_del_bg="#fdecea",
    diff_ins_bg="#e8f5e9",
    diff_del_mark="#f5b7b1",
    diff_ins_mark="#a5d6a7",
    diff_head_bg="#eef2f7",
    diff_lineno="#5f6876",
)

DARK = Theme(
    dark=True,
    window="#20242b",
    base="#181b20",
    alternate_base="#1e2228",
    text="#e6e9ef",
    button="#2a2f37",
    highlight="#3d6fb6",
    highlighted_text="#ffffff",
    placeholder="#8a93a0",
    link="#82aaff",
    mid="#3a404a",
    dim="#9aa3af",
    tooltip_base="#2b3038",
    disabled_text="#6b7380",
    # Disabled is dimmer, never lighter: a field sinks into the window (its text
    # greyed), where a lighter field would look raised, as if it were the live one.
    disabled_base="#16191d",
    disabled_button="#23272d",
    indicator_border="#8a93a0",
    error="#ff8a80",
    warning="#ffcc80",
    diff_text="#e6e9ef",
    diff_del_bg="#4a2326",
    diff_ins_bg="#1f3d27",
    diff_del_mark="#7a2f35",
    diff_ins_mark="#2b5e37",
    diff_head_bg="#2b3440",
    diff_lineno="#9aa3af",
)


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def palette_for(theme: Theme) -> QPalette:
    """The QPalette of ``theme``: active/inactive colours and a greyed disabled group."""
    p = QPalette()
    R = QPalette.ColorRole
    roles = {
        R.Window: theme.window,
        R.WindowText: theme.text,
        R.Base: theme.base,
        R.AlternateBase: theme.alternate_base,
        R.ToolTipBase: theme.tooltip_base,
        R.ToolTipText: theme.text,
        R.Text: theme.text,
        R.Button: theme.button,
        R.ButtonText: theme.text,
        R.BrightText: "#ffffff",
        R.Highlight: theme.highlight,
        R.HighlightedText: theme.highlighted_text,
        R.PlaceholderText: theme.placeholder,
        R.Link: theme.link,
        R.LinkVisited: theme.link,
        R.Mid: theme.mid,
    }
    for role, color in roles.items():
        p.setColor(role, QColor(color))  # every group
    # Fusion derives bevels from these; left to QPalette they come out of the
    # light defaults and draw white edges in dark.
    button = QColor(theme.button)
    p.setColor(R.Light, button.lighter(130 if theme.dark else 115))
    p.setColor(R.Midlight, button.lighter(115 if theme.dark else 105))
    p.setColor(R.Dark, button.darker(160 if theme.dark else 140))
    p.setColor(R.Shadow, QColor("#000000"))
    disabled = QPalette.ColorGroup.Disabled
    for role in (R.WindowText, R.Text, R.ButtonText, R.PlaceholderText, R.HighlightedText):
        p.setColor(disabled, role, QColor(theme.disabled_text))
    p.setColor(disabled, R.Base, QColor(theme.disabled_base))
    p.setColor(disabled, R.Button, QColor(theme.disabled_button))
    p.setColor(disabled, R.Highlight, QColor(theme.mid))
    p.setColor(disabled, R.Link, QColor(theme.disabled_text))
    return p


def stylesheet_for(theme: Theme, qss: str, folder: Path | None = None) -> str:
    """``qss`` with ``@name`` replaced by the theme's colours (longest names first) and
    ``@check_mark`` by the tick image in ``folder`` (default: the stylesheet's)."""
    values = {k: v for k, v in asdict(theme).items() if isinstance(v, str)}
    values["check_mark"] = ((folder or QSS_PATH.parent) / CHECK_MARK_NAME).as_posix()
    for name in sorted(values, key=len, reverse=True):
        qss = qss.replace(f"@{name}", values[name])
    return qss


def current_theme() -> Theme:
    """The theme applied last (light when none was, e.g. in a bare test)."""
    app = QApplication.instance()
    dark = bool(app.property("workbench_dark")) if app is not None else False
    return DARK if dark else LIGHT


def apply_theme(app: QApplication, theme: str) -> bool:
    """Apply "light", "dark" or "system"; returns whether the result is dark.

    With "system" the theme follows the desktop when it switches between light and dark."""
    app.setStyle("Fusion")
    dark = system_is_dark() if theme == "system" else theme == "dark"
    chosen = DARK if dark else LIGHT
    app.setProperty("workbench_theme", theme)
    app.setProperty("workbench_dark", dark)  # before the palette: its change event reads it
    app.setPalette(palette_for(chosen))
    qss = QSS_PATH.read_text("utf-8") if QSS_PATH.exists() else ""
    app.setStyleSheet(stylesheet_for(chosen, qss))
    if not app.property("workbench_follows_system"):
        app.setProperty("workbench_follows_system", True)
        QGuiApplication.styleHints().colorSchemeChanged.connect(lambda _scheme: _follow_system(app))
    return dark


def _follow_system(app: QApplication) -> None:
    if app.property("workbench_theme") == "system" and system_is_dark() != bool(
        app.property("workbench_dark")
    ):
        apply_theme(app, "system")


def legible_on(color: QColor, background: QColor, ratio: float = 4.5) -> QColor:
    """``color`` moved toward white (on a dark background) or black (on a light one)
    just far enough to reach ``ratio`` against ``background``: a pass green on the
    selection's blue stays green, and readable."""
    if contrast_ratio(color, background) >= ratio:
        return QColor(color)
    target = QColor("#ffffff") if background.lightness() < 140 else QColor("#000000")
    for step in range(1, 21):
        t = step / 20
        mixed = QColor(
            round(color.red() + (target.red() - color.red()) * t),
            round(color.green() + (target.green() - color.green()) * t),
            round(color.blue() + (target.blue() - color.blue()) * t),
        )
        if contrast_ratio(mixed, background) >= ratio:
            return mixed
    return target


def contrast_ratio(a: str | QColor, b: str | QColor) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""

    def luminance(c: QColor) -> float:
        def channel(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        return (
            0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())
        )

    la, lb = sorted((luminance(QColor(a)), luminance(QColor(b))), reverse=True)
    return (la + 0.05) / (lb + 0.05)


__all__ = [
    "DARK",
    "LIGHT",
    "QSS_PATH",
    "Theme",
    "apply_theme",
    "contrast_ratio",
    "current_theme",
    "palette_for",
    "stylesheet_for",
    "system_is_dark",
]
