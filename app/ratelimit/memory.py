"""Token buckets in this process's memory: exact for one process, and bounded.

Memory stays bounded however many distinct callers arrive: buckets are kept in
least-recently-used order, a bucket that has refilled to capacity is dropped (it is
indistinguishable from a new one), and beyond `max_keys` the least recently used bucket
is dropped even if not full. That last case forgives its owner's debt, which is the
price of a bound; `max_keys` is sized so that it only happens under a flood of distinct
callers, and the flood's own requests are still each charged.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from app.ratelimit.limiter import BucketState, Clock, Decision, Limit, decide, refill


class InProcessRateLimiter:
    def __init__(self, limit: Limit, *, max_keys: int, clock: Clock = time.monotonic) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._limit = limit
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, BucketState] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    async def acquire(self, key: str, weight: int) -> Decision:
        return self._decide(key, weight, take=True)

    async def peek(self, key: str, weight: int = 1) -> Decision:
        return self._decide(key, weight, take=False)

    # No await inside: one event loop runs this start to end, so a decision is atomic.
    def _decide(self, key: str, weight: int, *, take: bool) -> Decision:
        now = self._clock()
        state = self._buckets.get(key)
        if state is None:
            state = BucketState(float(self._limit.capacity), now)
        else:
            refill(state, self._limit, now)
        decision = decide(state, self._limit, weight, take=take)
        if state.tokens < self._limit.capacity:
            self._buckets[key] = state
            self._buckets.move_to_end(key)
        else:
            self._buckets.pop(key, None)
        self._evict(now)
        return decision

    def _evict(self, now: float) -> None:
        buckets = self._buckets
        while buckets:
            oldest_key, oldest = next(iter(buckets.items()))
            idle_full = oldest.tokens + (now - oldest.updated_at) * self._limit.refill_per_second
            if len(buckets) > self._max_keys or idle_full >= self._limit.capacity:
                del buckets[oldest_key]
            else:
                break
