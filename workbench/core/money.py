"""The one rule for showing a total of money, for the CLI and the app alike.

A total is a plain number only when every call in it is priced. When no call is
priced it is "unknown" (never ``$0.0000``); when some are, it is a lower bound
plus how many calls are not priced: ``≥ $0.0123, 4 calls unpriced``. Every amount,
a total or one call's cost, is written by :func:`format_usd`, so the same cost reads
the same on every screen and in the CLI ($0.00066 in the grid, the summary, the
log and ``workbench runs show`` alike). A failed call
costs nothing and is not counted as unpriced; neither is a call that was never made,
nor a cached replay (no model was called: it is not spending).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


class _Priced(Protocol):
    @property
    def cost_usd(self) -> float | None: ...

    @property
    def ok(self) -> bool: ...

    @property
    def cached(self) -> bool: ...


@dataclass(frozen=True)
class CostTotal:
    """What a set of calls cost: the sum of the priced ones, and how many are unpriced."""

    priced_usd: float = 0.0
    priced_calls: int = 0
    unpriced_calls: int = 0

    @property
    def known(self) -> bool:
        """True when the total is exact (no unpriced call in it)."""
        return self.unpriced_calls == 0

    @property
    def usd(self) -> float | None:
        """The exact total, or None when any call is unpriced."""
        return self.priced_usd if self.known else None

    def __add__(self, other: CostTotal) -> CostTotal:
        return CostTotal(
            self.priced_usd + other.priced_usd,
            self.priced_calls + other.priced_calls,
            self.unpriced_calls + other.unpriced_calls,
        )


def cost_total(cells: Iterable[_Priced]) -> CostTotal:
    """The total of finished cells (anything with ``cost_usd``, ``ok`` and ``cached``);
    cached replays called no model and count for nothing."""
    usd, priced, unpriced = 0.0, 0, 0
    for cell in cells:
        if cell.cached:
            continue
        if cell.cost_usd is not None:
            usd += cell.cost_usd
            priced += 1
        elif cell.ok:
            unpriced += 1
    return CostTotal(usd, priced, unpriced)


SIGNIFICANT = 3
"""Figures kept below a dollar: enough to tell $0.00066 from $0.00071, no more."""
SMALLEST_DIGITS = 8
"""Decimals at most: a cost under $0.000000005 reads ``<$0.00000001``, never ``$0``."""


def format_usd(usd: float | None) -> str:
    """The one way an amount of money is written: ``unknown`` for None (an unknown
    price is never 0), ``$0`` for nothing, three significant figures below a dollar
    with trailing zeros dropped down to cents (``$0.274``, ``$0.0521``, ``$0.00066``,
    ``$0.02``), cents from a dollar (``$12.30``, ``$1,234.50``)."""
    if usd is None:
        return "unknown"
    if usd == 0:
        return "$0"
    size = abs(usd)
    if size >= 1:
        return f"${usd:,.2f}" if usd > 0 else f"-${size:,.2f}"
    digits = SIGNIFICANT - 1 - math.floor(math.log10(size))
    if digits > SMALLEST_DIGITS:
        if size < 0.5 * 10.0**-SMALLEST_DIGITS:
            return f"<${10.0**-SMALLEST_DIGITS:.{SMALLEST_DIGITS}f}"
        digits = SMALLEST_DIGITS
    text = f"{size:.{digits}f}".rstrip("0")
    whole, _, cents = text.partition(".")
    text = f"{whole}.{cents.ljust(2, '0')}"
    if float(text) >= 1:  # 0.9996 rounds up to a dollar: cents from there
        text = f"{float(text):,.2f}"
    return f"${text}" if usd > 0 else f"-${text}"


def format_total(total: CostTotal) -> str:
    """``$0.0123``; ``unknown`` when nothing is priced; ``≥ $0.0123, 4 calls unpriced``
    when some are (a number only when every call in it is priced)."""
    if total.unpriced_calls and not total.priced_calls:
        return "unknown"
    money = format_usd(total.priced_usd)
    if not total.unpriced_calls:
        return money
    n = total.unpriced_calls
    return f"≥ {money}, {n} call{'s' if n != 1 else ''} unpriced"


def format_cells_total(cells: Iterable[_Priced]) -> str:
    """:func:`format_total` of :func:`cost_total` in one call."""
    return format_total(cost_total(cells))
