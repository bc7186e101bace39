"""The one retry and timeout policy for every provider call.

Retry on what says "try again" (408, 409, 429, 5xx, timeouts and failed
connections) and on nothing else; wait with exponential backoff and full jitter
(a random wait between 0 and the backoff cap, so many callers that failed
together do not retry together), except when the server says how long to wait
(``retry-after-ms``, then ``Retry-After`` in seconds or as an HTTP date), which
is honoured exactly. Attempts and total time are bounded: a server that asks
for a longer wait than the budget allows gets its error passed on at once.

Timeouts are explicit: a short connect timeout (a dead host fails fast), a
first-byte timeout for streamed calls (a server that accepts the connection but
never starts its answer), and a per-chunk read timeout (a model may think for
long, but a stream that stalls for longer than ``read`` is stuck). Bounds, by
default: refused 0 s, connect 5 s, first byte 30 s, between chunks 60 s.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from workbench.providers.errors import ProviderError

if TYPE_CHECKING:
    import httpx


class Timeouts(BaseModel):
    """Seconds. ``read`` is per chunk, not per answer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    connect: float = Field(default=5.0, gt=0)
    read: float = Field(default=60.0, gt=0)
    write: float = Field(default=10.0, gt=0)
    first_byte: float | None = Field(default=30.0, gt=0)
    """A streamed call whose response (status and headers) has not begun this long after
    it was sent is given up (and retried): a server that accepts connections but never
    answers costs this, not ``read``. None: only ``read`` applies. Non-streamed calls
    (whose headers come with the whole answer) are bounded by ``read`` alone."""
    pool: float | None = Field(default=None, gt=0)
    """Waiting for a free connection; None because the engine's limits already queue calls."""

    def to_httpx(self) -> httpx.Timeout:
        import httpx

        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


class RetryPolicy(BaseModel):
    """How often and how long to retry. Defaults suit interactive comparison runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(default=4, ge=1)
    """Attempts in total, the first one included."""
    base_delay: float = Field(default=0.5, ge=0)
    max_delay: float = Field(default=8.0, ge=0)
    max_total: float = Field(default=60.0, gt=0)
    """No retry starts once waiting for it would pass this many seconds since the first try."""
    max_retry_after: float = Field(default=60.0, ge=0)
    """A server asking for a longer wait than this is not retried."""

    def backoff_cap(self, attempt: int) -> float:
        """The jitter ceiling after ``attempt`` failed attempts (1-based)."""
        return float(min(self.max_delay, self.base_delay * (2 ** (attempt - 1))))

    def next_wait(
        self,
        error: ProviderError,
        attempt: int,
        elapsed: float,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to give up and raise ``error``."""
        if not error.retryable or attempt >= self.max_attempts:
            return None
        if error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            wait = max(0.0, error.retry_after)
        else:
            wait = rand() * self.backoff_cap(attempt)
        if elapsed + wait > self.max_total:
            return None
        return wait


NO_RETRY = RetryPolicy(max_attempts=1)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait, from ``retry-after-ms`` or ``Retry-After``.

    ``Retry-After`` may be delta-seconds or an HTTP date (RFC 9110 §10.2.3); a
    date in the past means "now". Unreadable values are ignored, not fatal.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass
class RetryClock:
    """Counts attempts and time for one call under a policy."""

    policy: RetryPolicy
    attempt: int = 0
    started: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def next_wait(self, error: ProviderError) -> float | None:
        return self.policy.next_wait(error, self.attempt, self.elapsed())
