"""The limiters the gateway opens from its settings."""

from __future__ import annotations

import asyncio

from app.ratelimit.setup import REDIS_MAX_CONNECTIONS, open_rate_limits
from tests.clock import FakeClock
from tests.e2e.conftest import gateway_settings


async def test_a_burst_larger_than_the_redis_pool_queues_instead_of_falling_back(
    redis_server_url: str, redis_prefix: str
) -> None:
    settings = gateway_settings(
        "sqlite+aiosqlite:///unused.db",
        redis_url=redis_server_url,
        rate_limit_key_prefix=redis_prefix,
        rate_limit_capacity=150,
        rate_limit_refill_per_second=0.001,
        # The point is queueing for a pooled connection; on a loaded machine the default
        # 0.25 s could expire in the queue and fall back, which is another test's subject.
        redis_timeout_seconds=5,
    )
    burst = REDIS_MAX_CONNECTIONS * 8

    async with open_rate_limits(settings, FakeClock()) as limits:
        decisions = await asyncio.gather(
            *[limits.principal.acquire("sub:burst", 1) for _ in range(burst)]
        )

    assert sum(d.allowed for d in decisions) == 150
    assert limits.stats.backend_failures == {}


async def test_in_process_limits_are_per_opened_instance() -> None:
    settings = gateway_settings(
        "sqlite+aiosqlite:///unused.db", rate_limit_capacity=1, rate_limit_refill_per_second=0.01
    )

    async with open_rate_limits(settings) as first, open_rate_limits(settings) as second:
        assert (await first.principal.acquire("sub:a", 1)).allowed
        assert not (await first.principal.acquire("sub:a", 1)).allowed
        assert (await second.principal.acquire("sub:a", 1)).allowed
