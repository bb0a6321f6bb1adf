"""A circuit breaker per downstream service: closed, open, half-open.

Why not purgatory (measured against our semantics, 3.0.1): its half-open state lets every
concurrent request through instead of one trial, it times the open state with the wall
clock (a clock step reopens or closes circuits), and it raises one shared exception
instance from many tasks. This is the small state machine we need, with an injectable
monotonic clock so tests do not sleep.

Failures are what say the service is unwell: timeouts, connection errors and 5xx. A 4xx
(including 429) is an answer from a healthy service and counts as a success; an answer
that breaks the contract is neither, so a lying service cannot hold a circuit shut open.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable

from app.downstream.errors import DownstreamCircuitOpenError


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        service: str,
        *,
        failure_threshold: int,
        open_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, BreakerState], None] | None = None,
    ) -> None:
        if failure_threshold < 1 or open_seconds <= 0:
            raise ValueError("a breaker needs a positive threshold and open time")
        self.service = service
        self._threshold = failure_threshold
        self._open_seconds = open_seconds
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The state a call made now would meet: an open circuit whose wait is over
        reads as half-open."""
        if self._state is BreakerState.OPEN and self._wait_left() <= 0:
            return BreakerState.HALF_OPEN
        return self._state

    def acquire(self) -> bool:
        """Admit a call or fail fast. Returns True when the call is the half-open trial,
        which must be settled with record_success, record_failure or release."""
        if self._state is BreakerState.OPEN:
            if self._wait_left() > 0:
                raise self._open_error()
            self._change(BreakerState.HALF_OPEN)
        if self._state is BreakerState.HALF_OPEN:
            # One trial at a time: a recovering service is not hit by the whole backlog.
            if self._trial_in_flight:
                raise self._open_error()
            self._trial_in_flight = True
            return True
        return False

    def record_success(self, *, trial: bool) -> None:
        self._consecutive_failures = 0
        if trial:
            # Only the trial decides: a call admitted before the circuit opened proves
            # less about the service now than the one sent after the wait.
            self._trial_in_flight = False
            self._change(BreakerState.CLOSED)

    def record_failure(self, *, trial: bool) -> None:
        if trial:
            self._trial_in_flight = False
            self._trip()
            return
        if self._state is not BreakerState.CLOSED:
            # A call admitted before the circuit opened: it changes nothing now.
            return
        self._consecutive_failures += 1
        if self._consecutive_failures >= self._threshold:
            self._trip()

    def release(self, *, trial: bool) -> None:
        """The call ended without saying anything about the service's health (cancelled,
        or an answer that broke the contract): free the trial slot, keep the state."""
        if trial:
            self._trial_in_flight = False

    def _trip(self) -> None:
        self._opened_at = self._clock()
        self._consecutive_failures = 0
        self._change(BreakerState.OPEN)

    def _wait_left(self) -> float:
        return self._opened_at + self._open_seconds - self._clock()

    def _open_error(self) -> DownstreamCircuitOpenError:
        wait = max(self._wait_left(), 0.0)
        return DownstreamCircuitOpenError(self.service, retry_after_seconds=max(1, math.ceil(wait)))

    def _change(self, state: BreakerState) -> None:
        if state is self._state:
            return
        self._state = state
        if self._on_change is not None:
            self._on_change(self.service, state)
