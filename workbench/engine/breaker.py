"""The per-profile circuit breaker: a dead or hung provider fails its calls at once."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from workbench.providers.errors import (
    UNREACHABLE_CAUSES,
    ConnectionFailed,
    ProviderError,
    ProviderTimeout,
    ProviderUnreachable,
)

log = logging.getLogger(__name__)

BREAKER_THRESHOLD = 3
"""Consecutive connection failures or timeouts after which a profile is unreachable."""
STALLED_AT_OPEN = 2.0
"""Seconds without a token after which a streaming call is ended when its breaker opens."""


@dataclass
class CircuitBreaker:
    """One profile's health during a run.

    Every failure to connect (refused, connect timeout, host not found) and every
    timeout (no first byte, a stalled stream) counts; any answer resets the count.
    Once ``threshold`` failures come in a row the breaker opens for the rest of the
    run: the profile's calls not yet made fail at once, and so do its calls in flight
    that have not had a first token yet (waiting for a silent server, or for their
    next retry) or have had none for ``STALLED_AT_OPEN`` seconds, all with "provider
    unreachable: <the last failure>". Calls still streaming an answer go on.
    """

    threshold: int = BREAKER_THRESHOLD
    failures: int = 0
    reason: str = ""
    opened: bool = False
    waiting: set[asyncio.Task[Any]] = field(default_factory=set)
    """Calls in flight without a first token yet."""
    streaming: dict[asyncio.Task[Any], float] = field(default_factory=dict)
    """Calls in flight that have a first token: when their last token came."""
    cut: set[asyncio.Task[Any]] = field(default_factory=set)
    """Calls this breaker cancelled (to tell them from a cancelled run)."""

    @staticmethod
    def counts(error: BaseException | None) -> bool:
        if isinstance(error, ProviderUnreachable):
            return False
        if isinstance(error, ConnectionFailed):
            # Nobody there. Not a dropped idle connection (a healthy server does that),
            # nor a malformed URL (the profile's fault).
            return error.cause in UNREACHABLE_CAUSES
        return isinstance(error, ProviderTimeout)

    def failure(self, error: BaseException | None) -> None:
        if self.opened or not self.counts(error):
            return
        assert isinstance(error, ProviderError)
        self.failures += 1
        self.reason = error.detail
        if self.failures >= self.threshold:
            self.opened = True
            log.warning("provider %s unreachable: %s", error.provider, self.reason)
            me, now = asyncio.current_task(), time.perf_counter()
            idle = [t for t, at in self.streaming.items() if now - at >= STALLED_AT_OPEN]
            for task in [*self.waiting, *idle]:
                if task is not me and not task.done():
                    self.cut.add(task)
                    task.cancel()

    def success(self) -> None:
        if not self.opened:
            self.failures = 0

    def check(self, profile: str, model: str) -> None:
        """Raise :class:`ProviderUnreachable` if the breaker is open."""
        if self.opened:
            raise self.unreachable(profile, model)

    def unreachable(self, profile: str, model: str) -> ProviderUnreachable:
        return ProviderUnreachable(
            f"provider unreachable: {self.reason} (after {self.threshold} failures in a row)",
            provider=profile,
            model=model,
        )

    def was_cut(self, task: asyncio.Task[Any] | None) -> bool:
        """True (once) if this breaker cancelled ``task`` and nothing else did too."""
        if task is None or task not in self.cut:
            return False
        self.cut.discard(task)
        return task.uncancel() == 0
