"""When the client boundary resends a request by itself: exponential backoff with full
jitter, bounded in attempts and by the request's deadline, honouring Retry-After.

Only transient failures are resent (connection failures, 429, 502, 503, 504; see
DownstreamError.transient), and only requests that are safe to repeat: every GET, and a
POST only because it always carries its Idempotency-Key (ServiceClient.post enforces it).
A Retry-After longer than the budget allows is not waited out: the caller gets the
error, with the wait, at once.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from app.core.deadline import Deadline
from app.downstream.errors import DownstreamError

T = TypeVar("T")

# Never start an attempt with less than this left: it could not finish, and a request
# sent then cut off leaves a write's outcome unknown for nothing.
MIN_ATTEMPT_SECONDS = 0.05
_NO_TIME = float("inf")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    base_seconds: float = 0.05
    max_backoff_seconds: float = 1.0
    # A Retry-After longer than this is handed to the caller rather than waited out.
    max_retry_after_seconds: float = 2.0
    # Uniform in [0, 1); replaceable so tests can pin the wait.
    jitter: Callable[[], float] = random.random

    def backoff(self, attempt: int) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^n))."""
        ceiling = min(self.max_backoff_seconds, self.base_seconds * 2 ** (attempt - 1))
        return float(ceiling * self.jitter())

    def wait_for(self, error: BaseException | None, attempt: int) -> float:
        retry_after = getattr(error, "retry_after_seconds", None)
        if isinstance(retry_after, int):
            return float(retry_after) if retry_after <= self.max_retry_after_seconds else _NO_TIME
        return self.backoff(attempt)


def _is_transient(error: BaseException) -> bool:
    # DownstreamCircuitOpenError is never transient: resent, it would only be refused
    # again before the wait.
    return isinstance(error, DownstreamError) and error.transient


async def with_retries(
    policy: RetryPolicy,
    deadline: Deadline | None,
    attempt: Callable[[], Awaitable[T]],
    on_retry: Callable[[DownstreamError, float], None] | None = None,
    *,
    lazy: bool = True,
) -> T:
    """`attempt` until it succeeds or the policy stops. `lazy`: the first attempt runs
    outside tenacity, whose machinery (a state object, its callbacks, an extra coroutine)
    is entered only after a transient failure, which it then receives as attempt 1 had
    raised it there: the same waits, stops, callbacks and final error either way
    (tests/downstream/test_retries.py runs both; bench/ab.py prices it as `eagerretries`)."""
    first_error: DownstreamError | None = None
    if lazy:
        try:
            return await attempt()
        except DownstreamError as error:
            if not _is_transient(error):
                raise
            first_error = error

    async def attempts() -> T:
        nonlocal first_error
        if first_error is not None:
            error, first_error = first_error, None
            raise error
        return await attempt()

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return policy.wait_for(error, state.attempt_number)

    def stop(state: RetryCallState) -> bool:
        if state.attempt_number >= policy.max_attempts or state.upcoming_sleep == _NO_TIME:
            return True
        left = deadline.remaining() if deadline else _NO_TIME
        return state.upcoming_sleep + MIN_ATTEMPT_SECONDS > left

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if on_retry is not None and isinstance(error, DownstreamError):
            on_retry(error, state.upcoming_sleep)

    retrying = AsyncRetrying(
        retry=retry_if_exception(_is_transient),
        wait=wait,
        stop=stop,
        before_sleep=before_sleep,
        sleep=asyncio.sleep,
        reraise=True,
    )
    return await retrying(attempts)
