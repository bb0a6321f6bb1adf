"""The in-process token bucket: admits up to capacity, refills at its rate, weighs
requests, charges nothing it refuses, and keeps memory bounded."""

from __future__ import annotations

import pytest

from app.ratelimit.limiter import Decision, Limit
from app.ratelimit.memory import InProcessRateLimiter
from tests.clock import FakeClock


def limiter(
    capacity: int = 5, refill: float = 1.0, max_keys: int = 1000
) -> tuple[InProcessRateLimiter, FakeClock]:
    clock = FakeClock()
    return InProcessRateLimiter(Limit(capacity, refill), max_keys=max_keys, clock=clock), clock


async def test_a_full_bucket_admits_its_capacity_then_refuses_with_the_wait() -> None:
    bucket, _ = limiter(capacity=3, refill=0.5)

    decisions = [await bucket.acquire("sub:a", 1) for _ in range(4)]

    assert decisions[:3] == [Decision(True, 0.0, 2), Decision(True, 0.0, 1), Decision(True, 0.0, 0)]
    assert decisions[3] == Decision(False, 2.0, 0)  # one token at 0.5 a second
    assert decisions[3].retry_after_header == 2


async def test_the_bucket_refills_at_its_rate_and_never_beyond_capacity() -> None:
    bucket, clock = limiter(capacity=3, refill=2.0)
    for _ in range(3):
        await bucket.acquire("sub:a", 1)

    clock.advance(0.5)  # one token back
    assert (await bucket.acquire("sub:a", 1)).allowed
    assert not (await bucket.acquire("sub:a", 1)).allowed

    clock.advance(3600)
    assert [(await bucket.acquire("sub:a", 1)).allowed for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]


async def test_a_refused_request_takes_nothing_so_waiting_retry_after_is_enough() -> None:
    bucket, clock = limiter(capacity=2, refill=1.0)
    await bucket.acquire("sub:a", 2)

    refused = [await bucket.acquire("sub:a", 1) for _ in range(10)]
    clock.advance(refused[-1].retry_after_seconds)

    assert all(not decision.allowed for decision in refused)
    assert (await bucket.acquire("sub:a", 1)).allowed


async def test_a_request_costs_its_weight() -> None:
    bucket, _ = limiter(capacity=10)

    assert await bucket.acquire("sub:a", 7) == Decision(True, 0.0, 3)
    assert await bucket.acquire("sub:a", 4) == Decision(False, 1.0, 3)
    assert await bucket.acquire("sub:a", 3) == Decision(True, 0.0, 0)


async def test_a_weight_above_capacity_costs_a_full_bucket_and_zero_costs_one() -> None:
    bucket, clock = limiter(capacity=10, refill=1.0)

    assert await bucket.acquire("sub:a", 1000) == Decision(True, 0.0, 0)
    assert await bucket.acquire("sub:a", 1000) == Decision(False, 10.0, 0)
    clock.advance(10)
    assert await bucket.acquire("sub:a", 0) == Decision(True, 0.0, 9)


async def test_peek_tells_whether_one_more_would_pass_and_charges_nothing() -> None:
    bucket, _ = limiter(capacity=1, refill=0.25)

    assert await bucket.peek("ip:192.0.2.1") == Decision(True, 0.0, 1)
    assert await bucket.peek("ip:192.0.2.1") == Decision(True, 0.0, 1)
    await bucket.acquire("ip:192.0.2.1", 1)
    assert await bucket.peek("ip:192.0.2.1") == Decision(False, 4.0, 0)


async def test_callers_have_separate_buckets() -> None:
    bucket, _ = limiter(capacity=1)

    assert (await bucket.acquire("sub:a", 1)).allowed
    assert not (await bucket.acquire("sub:a", 1)).allowed
    assert (await bucket.acquire("sub:b", 1)).allowed


async def test_a_clock_that_steps_back_mints_no_tokens() -> None:
    bucket, clock = limiter(capacity=2, refill=1.0)
    await bucket.acquire("sub:a", 2)

    clock.advance(-100)
    assert not (await bucket.acquire("sub:a", 1)).allowed
    clock.advance(101)
    assert (await bucket.acquire("sub:a", 1)).allowed


async def test_buckets_that_refilled_are_forgotten() -> None:
    bucket, clock = limiter(capacity=2, refill=1.0)
    for n in range(50):
        await bucket.acquire(f"sub:{n}", 1)
    assert len(bucket) == 50

    clock.advance(1)  # every bucket is full again
    await bucket.acquire("sub:new", 1)

    assert len(bucket) == 1


async def test_a_full_bucket_is_never_stored() -> None:
    bucket, _ = limiter(capacity=2)

    await bucket.peek("ip:192.0.2.1")

    assert len(bucket) == 0


async def test_the_number_of_buckets_is_capped_dropping_the_least_recently_used() -> None:
    bucket, _ = limiter(capacity=2, refill=0.001, max_keys=3)
    for key in ("sub:a", "sub:b", "sub:c"):
        await bucket.acquire(key, 2)
    await bucket.acquire("sub:a", 1)  # refused, but a is now the most recently used

    await bucket.acquire("sub:d", 2)

    assert len(bucket) == 3
    assert (await bucket.acquire("sub:b", 1)).allowed  # b was dropped: a fresh bucket
    assert not (await bucket.acquire("sub:a", 1)).allowed
    assert not (await bucket.acquire("sub:d", 1)).allowed


def test_limits_and_key_caps_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        Limit(0, 1.0)
    with pytest.raises(ValueError, match="refill"):
        Limit(1, 0.0)
    with pytest.raises(ValueError, match="max_keys"):
        InProcessRateLimiter(Limit(1, 1.0), max_keys=0)
