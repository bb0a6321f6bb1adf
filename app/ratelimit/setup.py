"""The gateway's two limiters, built from settings and held open by the lifespan.

`principal` budgets callers by their verified token's subject; `address` budgets, by
client address, the requests that carry no valid token. With REDIS_URL both keep their
buckets in Redis (falling back to this process's buckets while Redis is down); without
it, in this process only.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.core.networks import IPNetwork, parse_networks
from app.core.settings import Settings
from app.ratelimit.fallback import FallbackRateLimiter
from app.ratelimit.limiter import Clock, Limit, RateLimiter
from app.ratelimit.memory import InProcessRateLimiter
from app.ratelimit.redis_limiter import RedisRateLimiter

# How long a process limits on its own after Redis failed before asking Redis again.
REDIS_RETRY_SECONDS = 5.0
# Connections per process; each decision holds one for a fraction of a millisecond.
REDIS_MAX_CONNECTIONS = 32


@dataclass
class RateLimitStats:
    """Counters for metrics: refusals by limiter, and failed calls to the shared store."""

    rejected: Counter[str] = field(default_factory=Counter)
    backend_failures: Counter[str] = field(default_factory=Counter)

    def request_rejected(self, limiter: str) -> None:
        self.rejected[limiter] += 1

    def backend_failed(self, limiter: str, reason: str) -> None:
        self.backend_failures[limiter] += 1


@dataclass(frozen=True, slots=True)
class RateLimits:
    principal: RateLimiter
    address: RateLimiter
    trusted_proxies: tuple[IPNetwork, ...]
    stats: RateLimitStats
    # The buckets' sizes and refill rates, which clients are told (app/http/budget.py).
    principal_limit: Limit
    address_limit: Limit


@asynccontextmanager
async def open_rate_limits(
    settings: Settings, clock: Clock | None = None
) -> AsyncIterator[RateLimits]:
    """`clock` replaces time in tests; by default this process's monotonic clock, and
    Redis's own clock for shared buckets."""
    limits = {
        "principal": Limit(settings.rate_limit_capacity, settings.rate_limit_refill_per_second),
        "address": Limit(
            settings.rate_limit_unauthenticated_capacity,
            settings.rate_limit_unauthenticated_refill_per_second,
        ),
    }
    local_clock = clock or time.monotonic
    stats = RateLimitStats()
    proxies = parse_networks(settings.trusted_proxies)

    def local(limit: Limit) -> InProcessRateLimiter:
        return InProcessRateLimiter(limit, max_keys=settings.rate_limit_max_keys, clock=local_clock)

    if settings.redis_url is None:
        yield RateLimits(
            local(limits["principal"]),
            local(limits["address"]),
            proxies,
            stats,
            limits["principal"],
            limits["address"],
        )
        return
    timeout = settings.redis_timeout_seconds
    # A burst beyond the pool waits for a connection (within the timeout) rather than
    # failing at once and sending the process to its fallback. No retries inside
    # redis-py: a failed call falls back at once instead of waiting.
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=REDIS_MAX_CONNECTIONS,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )
    client = Redis.from_pool(pool)

    def shared(name: str) -> FallbackRateLimiter:
        primary = RedisRateLimiter(
            client,
            limits[name],
            key_prefix=settings.rate_limit_key_prefix,
            timeout_seconds=timeout,
            clock=clock,
        )
        return FallbackRateLimiter(
            name,
            primary,
            local(limits[name]),
            stats,
            retry_seconds=REDIS_RETRY_SECONDS,
            clock=local_clock,
        )

    try:
        yield RateLimits(
            shared("principal"),
            shared("address"),
            proxies,
            stats,
            limits["principal"],
            limits["address"],
        )
    finally:
        await client.aclose()
