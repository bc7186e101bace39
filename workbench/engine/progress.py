"""A run's progress: spending and reservations for the budgets, breakers, deadlines."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from workbench.core.errors import (
    WorkbenchError,
)
from workbench.core.runs import (
    CellResult,
    RunSpec,
    SpendCap,
)
from workbench.engine.breaker import CircuitBreaker

log = logging.getLogger(__name__)


@dataclass
class RunProgress:
    """What a run has done and spent so far, what its calls in flight hold, and its
    breakers and deadline (shared by every cell task of one run)."""

    done: int = 0
    spent: float = 0.0
    spent_by: dict[str, float] = field(default_factory=dict)
    """Spent per profile (the profile that answered)."""
    reserved: dict[str, float] = field(default_factory=dict)
    """What the calls in flight may cost, per profile (their estimates)."""
    pending: list[CellResult] = field(default_factory=list)
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    deadline: float | None = None
    """``time.monotonic()`` past which the run makes no call and ends those going."""

    def used(self, profile: str | None) -> float:
        if profile is None:
            return self.spent + sum(self.reserved.values())
        return self.spent_by.get(profile, 0.0) + self.reserved.get(profile, 0.0)

    def reserve(self, caps: Sequence[SpendCap], profile: str, estimate: float) -> str | None:
        """Hold ``estimate`` for a call about to start on ``profile``; or, when a budget
        would be crossed, its label (and nothing is held)."""
        for cap in caps:
            if cap.profile is not None and cap.profile != profile:
                continue
            used = self.used(cap.profile)
            if used >= cap.remaining_usd or used + estimate > cap.remaining_usd:
                return cap.label
        self.reserved[profile] = self.reserved.get(profile, 0.0) + estimate
        return None

    def release(self, profile: str, estimate: float) -> None:
        self.reserved[profile] = self.reserved.get(profile, 0.0) - estimate

    def breaker(self, profile: str, threshold: int) -> CircuitBreaker:
        if profile not in self.breakers:
            self.breakers[profile] = CircuitBreaker(threshold=threshold)
        return self.breakers[profile]


class RunIncomplete(WorkbenchError):
    """The vault holds fewer (or more) cells of a run than the engine finished."""

    default_hint = "The vault could not store every cell; check the disk and run again."


def call_limit(spec: RunSpec, progress: RunProgress) -> tuple[float | None, str]:
    """Seconds the next call may take (None: unbounded), and which bound that is."""
    call = spec.call_deadline_s
    if progress.deadline is None:
        return call, f"call deadline of {call:g} s"
    left = progress.deadline - time.monotonic()
    if call is not None and call <= left:
        return call, f"call deadline of {call:g} s"
    return left, f"run deadline of {spec.run_deadline_s:g} s"
