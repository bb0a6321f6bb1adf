"""The Redis token bucket, against the real Redis: the same arithmetic as in process,
atomic across concurrent callers, self-expiring keys, and typed failure when Redis
cannot answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.ratelimit.limiter import Decision, Limit, LimiterUnavailableError
from app.ratelimit.redis_limiter import RedisRateLimiter
from tests.clock import FakeClock


@pytest.fixture
async def client(redis_server_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server_url)
    yield client
    await client.aclose()


def limiter(
    client: Redis,
    prefix: str,
    capacity: int = 3,
    refill: float = 1.0,
    clock: FakeClock | None = None,
) -> RedisRateLimiter:
    return RedisRateLimiter(
        client, Limit(capacity, refill), key_prefix=prefix, timeout_seconds=2, clock=clock
    )


async def test_capacity_refusal_and_refill_as_in_process(client: Redis, redis_prefix: str) -> None:
    clock = FakeClock()
    bucket = limiter(client, redis_prefix, capacity=3, refill=0.5, clock=clock)

    decisions = [await bucket.acquire("sub:a", 1) for _ in range(4)]
    clock.advance(2)
    after_refill = await bucket.acquire("sub:a", 1)

    assert decisions == [
        Decision(True, 0.0, 2),
        Decision(True, 0.0, 1),
        Decision(True, 0.0, 0),
        Decision(False, 2.0, 0),
    ]
    assert after_refill == Decision(True, 0.0, 0)


async def test_weights_peek_and_clamping(client: Redis, redis_prefix: str) -> None:
    clock = FakeClock()
    bucket = limiter(client, redis_prefix, capacity=10, refill=2.0, clock=clock)

    assert await bucket.peek("sub:a") == Decision(True, 0.0, 10)
    assert await bucket.acquire("sub:a", 7) == Decision(True, 0.0, 3)
    assert await bucket.acquire("sub:a", 5) == Decision(False, 1.0, 3)
    assert await bucket.peek("sub:a") == Decision(True, 0.0, 3)
    clock.advance(3.5)
    assert await bucket.acquire("sub:a", 500) == Decision(True, 0.0, 0)
    assert await bucket.peek("sub:a") == Decision(False, 0.5, 0)


async def test_concurrent_callers_cannot_spend_the_same_tokens(
    client: Redis, redis_prefix: str, redis_server_url: str
) -> None:
    # Two limiters on two connection pools, as two gateway processes would have.
    other = Redis.from_url(redis_server_url)
    try:
        first = limiter(client, redis_prefix, capacity=10, refill=0.001)
        second = limiter(other, redis_prefix, capacity=10, refill=0.001)

        decisions = await asyncio.gather(
            *[(first if n % 2 else second).acquire("sub:a", 1) for n in range(40)]
        )
    finally:
        await other.aclose()

    assert sum(decision.allowed for decision in decisions) == 10


async def test_without_a_clock_redis_keeps_time(client: Redis, redis_prefix: str) -> None:
    bucket = limiter(client, redis_prefix, capacity=2, refill=0.001)

    await bucket.acquire("sub:a", 2)
    refused = await bucket.acquire("sub:a", 1)

    assert not refused.allowed
    assert refused.retry_after_seconds == pytest.approx(1000, rel=0.01)


async def test_a_bucket_expires_once_it_would_be_full_again(
    client: Redis, redis_prefix: str
) -> None:
    bucket = limiter(client, redis_prefix, capacity=10, refill=2.0)

    await bucket.acquire("sub:a", 4)
    await bucket.peek("sub:b")

    ttl_ms = await client.pttl(f"{redis_prefix}sub:a")
    assert 2000 < ttl_ms <= 3000  # 4 tokens at 2 a second, plus a second's margin
    assert await client.exists(f"{redis_prefix}sub:b") == 0  # a peek stores nothing


async def test_the_script_is_reloaded_after_redis_forgets_it(
    client: Redis, redis_prefix: str
) -> None:
    bucket = limiter(client, redis_prefix, capacity=2)
    await bucket.acquire("sub:a", 1)

    await client.script_flush()

    assert await bucket.acquire("sub:a", 1) == Decision(True, 0.0, 0)


async def test_an_unreachable_redis_is_a_typed_error(unused_port: int) -> None:
    client = Redis.from_url(
        f"redis://127.0.0.1:{unused_port}/0",
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        with pytest.raises(LimiterUnavailableError, match="ConnectionError"):
            await limiter(client, "test:").acquire("sub:a", 1)
    finally:
        await client.aclose()


async def test_a_redis_that_does_not_answer_in_time_is_a_typed_error() -> None:
    # A listening socket that never replies: the exchange is cut at the limiter's timeout.
    connections: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await reader.read(-1)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = Redis.from_url(f"redis://127.0.0.1:{port}/0", retry=Retry(NoBackoff(), 0))
    bucket = RedisRateLimiter(client, Limit(1, 1.0), key_prefix="test:", timeout_seconds=0.2)
    try:
        with pytest.raises(LimiterUnavailableError, match="TimeoutError"):
            await bucket.acquire("sub:a", 1)
    finally:
        await client.aclose()
        for writer in connections:
            writer.close()
            await writer.wait_closed()
        server.close()
        await server.wait_closed()
