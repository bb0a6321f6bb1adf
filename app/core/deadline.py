"""The time budget of one request. Every downstream call gets the smaller of its own cap
and what is left, so the gateway answers within REQUEST_TIMEOUT_SECONDS whatever the
downstream services do."""

from __future__ import annotations

import time
from collections.abc import Callable


class Deadline:
    def __init__(self, budget_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ends_at = clock() + budget_seconds

    def remaining(self) -> float:
        return max(0.0, self._ends_at - self._clock())

    def timeout_for(self, cap_seconds: float) -> float:
        return min(cap_seconds, self.remaining())
