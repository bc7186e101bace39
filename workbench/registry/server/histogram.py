"""Fixed log-spaced latency buckets, so percentiles come from summed rollups.

Five buckets per decade from 1 ms to 100 s (upper bounds ``10 ** (i / 5)`` ms), plus
one for everything slower: 27 counters per histogram. Fixed bounds are what lets the
rollups of different hours, apps and workers be added column by column (in SQL, with
no raw span read). A percentile is interpolated inside its bucket on a log scale; a
bucket spans a factor of 1.58, so a reported p95 is within about 12% of the exact one.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

BUCKETS_PER_DECADE = 5
BOUNDS_MS: tuple[float, ...] = tuple(10 ** (i / BUCKETS_PER_DECADE) for i in range(26))
"""Upper bounds (inclusive) of the first 26 buckets; the 27th is everything above."""
BUCKETS = len(BOUNDS_MS) + 1


def bucket_of(ms: float) -> int:
    """The index of the bucket ``ms`` falls in (negative values count as 0 ms)."""
    return bisect.bisect_left(BOUNDS_MS, max(ms, 0.0))


def percentile(counts: Sequence[int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of the values counted in ``counts``; None when empty."""
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(counts):
        if count <= 0:
            continue
        if seen + count >= rank:
            low = BOUNDS_MS[index - 1] if index > 0 else BOUNDS_MS[0] / 10 ** (1 / 5)
            high = BOUNDS_MS[index] if index < len(BOUNDS_MS) else BOUNDS_MS[-1] * 10 ** (1 / 5)
            fraction = (rank - seen) / count
            return math.exp(math.log(low) + fraction * (math.log(high) - math.log(low)))
        seen += count
    return BOUNDS_MS[-1]
