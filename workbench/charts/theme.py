"""Colours of a chart: text, background, grid and one colour per series.

Plain strings (``#rrggbb``), no matplotlib and no Qt: the desktop app builds a
theme from its ``QPalette`` with :meth:`ChartTheme.from_colors`; the CLI and
tests use :data:`LIGHT` or :data:`DARK`.
"""

from __future__ import annotations

from dataclasses import dataclass

# Tableau 10, then the lighter companions of Tableau 20: distinct on white.
LIGHT_PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#79706e",
    "#a0cbe8", "#ffbe7d", "#8cd17d", "#b6992d", "#86bcb6",
    "#f1ce63", "#d4a6c8", "#fabfd2", "#d7b5a6", "#bab0ac",
)  # fmt: skip
# The same hues lifted in lightness, so bars read on a dark background.
DARK_PALETTE = (
    "#7aa6d6", "#ffa552", "#7fc97a", "#ff7b7d", "#8fd3cd",
    "#f5d76e", "#c99bd0", "#ffb3bb", "#c49a7d", "#a8a29e",
    "#b9dcf5", "#ffd0a0", "#b2e3a6", "#d8bd5a", "#b1dcd6",
    "#f7e09c", "#e5c3dc", "#ffd6e2", "#e8cdbf", "#d6cdc9",
)  # fmt: skip


def _rgb(color: str) -> tuple[int, int, int]:
    text = color.strip().lstrip("#")
    if len(text) == 3:
        text = "".join(ch * 2 for ch in text)
    if len(text) != 6:
        raise ValueError(f"{color!r}: write colours as #rrggbb")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(max(0.0, min(255.0, c))):02x}" for c in rgb)


def mix(a: str, b: str, share_of_b: float) -> str:
    """``a`` moved ``share_of_b`` (0..1) of the way towards ``b``."""
    ra, rb = _rgb(a), _rgb(b)
    return _hex(tuple(x + (y - x) * share_of_b for x, y in zip(ra, rb, strict=True)))  # type: ignore[arg-type]


def luminance(color: str) -> float:
    """Relative luminance 0 (black) .. 1 (white), as WCAG defines it."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@dataclass(frozen=True)
class ChartTheme:
    """What a chart is painted with; every field is a ``#rrggbb`` string."""

    foreground: str
    """Titles, labels, value labels, whiskers."""
    background: str
    """Figure and axes face."""
    grid: str
    """Grid lines, axis lines, group separators."""
    muted: str
    """Secondary text (notes, "unknown") and the dots of single calls."""
    palette: tuple[str, ...]
    """One colour per model, in order; reused when there are more models."""

    @property
    def dark(self) -> bool:
        return luminance(self.background) < 0.25

    def color(self, index: int) -> str:
        return self.palette[index % len(self.palette)]

    @classmethod
    def from_colors(cls, foreground: str, background: str) -> ChartTheme:
        """A theme for any text and background pair (e.g. a Qt palette's
        WindowText and Window): grid and muted text are blends of the two, and the
        series palette is the one made for a light or a dark background."""
        _rgb(foreground), _rgb(background)  # a clear error for a bad colour
        dark = luminance(background) < 0.25
        return cls(
            foreground=foreground,
            background=background,
            grid=mix(background, foreground, 0.16 if dark else 0.13),
            muted=mix(background, foreground, 0.62),
            palette=DARK_PALETTE if dark else LIGHT_PALETTE,
        )


LIGHT = ChartTheme.from_colors("#1f2328", "#ffffff")
DARK = ChartTheme.from_colors("#e6e6e6", "#1e1f22")

__all__ = ["DARK", "DARK_PALETTE", "LIGHT", "LIGHT_PALETTE", "ChartTheme", "luminance", "mix"]
