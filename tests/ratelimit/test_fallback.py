"""While Redis cannot answer, each process limits on its own (it neither lets everything
through nor refuses everything), says so once, counts each failure, and goes back to the
shared buckets once Redis answers again."""

from __future__ import annotations

import logging

import pytest

from app.ratelimit.fallback import FallbackRateLimiter
from app.ratelimit.limiter import Decision, Limit, LimiterUnavailableError
from app.ratelimit.memory import InProcessRateLimiter
from app.ratelimit.setup import RateLimitStats
from tests.clock import FakeClock


class FlakyStore:
    """A shared store that is up or down as the test says; admits everything when up."""

    def __init__(self) -> None:
        self.up = True
        self.calls = 0

    async def acquire(self, key: str, weight: int) -> Decision:
        return self._answer()

    async def peek(self, key: str, weight: int = 1) -> Decision:
        return self._answer()

    def _answer(self) -> Decision:
        self.calls += 1
        if not self.up:
            raise LimiterUnavailableError("ConnectionError")
        return Decision(True, 0.0, 99)


def build() -> tuple[FallbackRateLimiter, FlakyStore, RateLimitStats, FakeClock]:
    clock = FakeClock()
    store = FlakyStore()
    stats = RateLimitStats()
    local = InProcessRateLimiter(Limit(2, 0.01), max_keys=100, clock=clock)
    limiter = FallbackRateLimiter("principal", store, local, stats, retry_seconds=5, clock=clock)
    return limiter, store, stats, clock


async def test_while_the_store_is_up_it_decides() -> None:
    limiter, store, stats, _ = build()

    decisions = [await limiter.acquire("sub:a", 1) for _ in range(5)]

    assert decisions == [Decision(True, 0.0, 99)] * 5
    assert store.calls == 5
    assert not limiter.degraded
    assert stats.backend_failures == {}


async def test_when_the_store_fails_this_process_still_limits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter, store, stats, _ = build()
    store.up = False

    with caplog.at_level(logging.INFO, logger="app.ratelimit.fallback"):
        decisions = [await limiter.acquire("sub:a", 1) for _ in range(3)]
        peeked = await limiter.peek("sub:a")

    assert [d.allowed for d in decisions] == [True, True, False]
    assert not peeked.allowed
    assert limiter.degraded
    # One call found it down; the rest did not wait on it.
    assert store.calls == 1
    assert stats.backend_failures == {"principal": 1}
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "rate limit store unavailable; limiting in this process only")
    ]


async def test_the_store_is_tried_again_after_the_interval_and_used_once_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter, store, stats, clock = build()
    store.up = False
    with caplog.at_level(logging.INFO, logger="app.ratelimit.fallback"):
        await limiter.acquire("sub:a", 1)
        clock.advance(5)
        await limiter.peek("sub:a")  # still down: counted, not logged again
    assert len(caplog.records) == 1
    clock.advance(5)
    store.up = True
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="app.ratelimit.fallback"):
        back = await limiter.acquire("sub:a", 1)

    assert back == Decision(True, 0.0, 99)
    assert not limiter.degraded
    assert store.calls == 3
    assert stats.backend_failures == {"principal": 2}
    assert [r.getMessage() for r in caplog.records] == [
        "rate limit store back; limits shared again"
    ]


async def test_a_failed_peek_falls_back_too() -> None:
    limiter, store, _, clock = build()
    store.up = False

    assert await limiter.peek("ip:192.0.2.1") == Decision(True, 0.0, 2)
    clock.advance(5)
    store.up = True
    assert await limiter.peek("ip:192.0.2.1") == Decision(True, 0.0, 99)
