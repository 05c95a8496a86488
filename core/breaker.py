"""A circuit breaker per plugin, so one that keeps failing stops costing the others.

Closed: calls go through.  After ``threshold`` consecutive failures it opens: calls are
skipped.  After ``reset_seconds`` it lets calls through again (half-open); the next
success closes it, the next failure opens it for another ``reset_seconds``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Counts consecutive failures and decides whether the next call may run."""

    def __init__(
        self,
        threshold: int,
        reset_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self.consecutive_failures = 0
        self._opened_at: float | None = None

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.reset_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        """Whether a call may run now (a closed breaker answers without reading the clock:
        this is asked once per event and plugin)."""
        return self._opened_at is None or self.state is not BreakerState.OPEN

    def record_success(self) -> None:
        if self.consecutive_failures or self._opened_at is not None:
            self.consecutive_failures = 0
            self._opened_at = None

    def record_failure(self) -> bool:
        """Count a failure; return True when this failure opened the breaker."""
        self.consecutive_failures += 1
        if self.state is BreakerState.HALF_OPEN:
            self._opened_at = self._clock()
            return True
        if self._opened_at is None and self.consecutive_failures >= self.threshold:
            self._opened_at = self._clock()
            return True
        return False
