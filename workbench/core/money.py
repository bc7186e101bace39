"""The one rule for showing a total of money, for the CLI and the app alike.

A total is a plain number only when every call in it is priced. When no call is
priced it is "unknown" (never ``$0.0000``); when some are, it is a lower bound
plus how many calls are not priced: ``≥ $0.0123, 4 calls unpriced``. A failed call
costs nothing and is not counted as unpriced; neither is a call that was never made,
nor a cached replay (no model was called: it is not spending).
"""

from __future__ import annotations

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


def format_total(total: CostTotal, digits: int = 4) -> str:
    """``$0.0123``; ``unknown`` when nothing is priced; ``≥ $0.0123, 4 calls unpriced``
    when some are; ``<$0.0001`` for a cost that rounds to zero but is not zero."""
    if total.unpriced_calls and not total.priced_calls:
        return "unknown"
    usd, smallest = total.priced_usd, 10.0**-digits
    # A real cost too small to show is not "$0.0000": that reads as free.
    money = f"<${smallest:.{digits}f}" if 0 < usd < smallest / 2 else f"${usd:.{digits}f}"
    if not total.unpriced_calls:
        return money
    n = total.unpriced_calls
    bound = "> $0" if money.startswith("<") else f"≥ {money}"
    return f"{bound}, {n} call{'s' if n != 1 else ''} unpriced"


def format_cells_total(cells: Iterable[_Priced], digits: int = 4) -> str:
    """:func:`format_total` of :func:`cost_total` in one call."""
    return format_total(cost_total(cells), digits)
