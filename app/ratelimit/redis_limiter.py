"""Token buckets in Redis, shared by every gateway process.

One Lua script reads, refills, decides and writes a bucket, so concurrent requests in
different processes cannot both spend the same tokens. It runs by EVALSHA (redis-py's
Script loads it again after a Redis restart). The time is Redis's own clock unless a
clock is injected (tests): one clock for every process, so skew between gateway hosts
cannot mint tokens. A bucket expires once it would have refilled, so idle callers cost
no memory in Redis either.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.ratelimit.limiter import (
    Clock,
    Decision,
    Limit,
    LimiterUnavailableError,
    clamp_weight,
)

# KEYS[1] bucket; ARGV: capacity, refill per second, weight, take (1/0), now ("" = TIME).
# Returns {admitted 0/1, tokens left, seconds until the weight fits} as strings: Redis
# would truncate Lua numbers to integers.
BUCKET_SCRIPT = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local weight = tonumber(ARGV[3])
local take = ARGV[4] == '1'
local now = tonumber(ARGV[5])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
elseif now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
local admitted = 0
local wait = 0
if tokens >= weight then
  admitted = 1
  if take then tokens = tokens - weight end
else
  wait = (weight - tokens) / rate
end
if take and admitted == 1 then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
  redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
end
return {tostring(admitted), tostring(tokens), tostring(wait)}
"""


class RedisRateLimiter:
    def __init__(
        self,
        client: Redis,
        limit: Limit,
        *,
        key_prefix: str,
        timeout_seconds: float,
        clock: Clock | None = None,
    ) -> None:
        self._client = client
        self._limit = limit
        self._prefix = key_prefix
        self._timeout = timeout_seconds
        self._clock = clock
        self._script = client.register_script(BUCKET_SCRIPT)

    async def acquire(self, key: str, weight: int) -> Decision:
        return await self._run(key, clamp_weight(weight, self._limit), take=True)

    async def peek(self, key: str, weight: int = 1) -> Decision:
        return await self._run(key, clamp_weight(weight, self._limit), take=False)

    async def _run(self, key: str, weight: int, *, take: bool) -> Decision:
        now = "" if self._clock is None else repr(self._clock())
        args: list[str | int] = [
            self._limit.capacity,
            repr(self._limit.refill_per_second),
            weight,
            int(take),
            now,
        ]
        try:
            # The socket timeouts bound each step; this bounds the whole exchange.
            async with asyncio.timeout(self._timeout):
                reply: Any = await self._script(keys=[self._prefix + key], args=args)
            admitted, tokens, wait = (float(part) for part in reply)
        except (RedisError, OSError, TimeoutError, ValueError, TypeError) as exc:
            raise LimiterUnavailableError(type(exc).__name__) from exc
        return Decision(admitted == 1, wait, int(tokens))
