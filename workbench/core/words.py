"""Counts in words, as people write them: "1 call", "1,200 calls"."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` with ``noun`` in the right number (``plural`` when not noun + "s")."""
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"
