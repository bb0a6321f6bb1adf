"""What happens when Redis cannot answer: each process keeps limiting on its own.

Failing open would switch rate limiting off exactly when the shared store is down,
perhaps because of the load it exists to stop; failing closed would make Redis a hard
dependency of every request. In between, each process falls back to its own in-process
buckets (the same limits, so a caller can get at most one budget per process), logs one
warning per outage, reports each failure to an observer (metrics), and tries Redis
again after `retry_seconds`, so a dead Redis costs one timeout per interval, not one
per request.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from app.ratelimit.limiter import Clock, Decision, LimiterUnavailableError, RateLimiter

logger = logging.getLogger(__name__)


class BackendObserver(Protocol):
    def backend_failed(self, limiter: str, reason: str) -> None: ...


class FallbackRateLimiter:
    def __init__(
        self,
        name: str,
        primary: RateLimiter,
        fallback: RateLimiter,
        observer: BackendObserver,
        *,
        retry_seconds: float,
        clock: Clock = time.monotonic,
    ) -> None:
        self._name = name
        self._primary = primary
        self._fallback = fallback
        self._observer = observer
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._primary_down_until: float | None = None

    @property
    def degraded(self) -> bool:
        return self._primary_down_until is not None

    async def acquire(self, key: str, weight: int) -> Decision:
        if self._use_primary():
            try:
                decision = await self._primary.acquire(key, weight)
            except LimiterUnavailableError as exc:
                self._primary_failed(str(exc))
            else:
                self._primary_answered()
                return decision
        return await self._fallback.acquire(key, weight)

    async def peek(self, key: str, weight: int = 1) -> Decision:
        if self._use_primary():
            try:
                decision = await self._primary.peek(key, weight)
            except LimiterUnavailableError as exc:
                self._primary_failed(str(exc))
            else:
                self._primary_answered()
                return decision
        return await self._fallback.peek(key, weight)

    def _use_primary(self) -> bool:
        return self._primary_down_until is None or self._clock() >= self._primary_down_until

    def _primary_failed(self, reason: str) -> None:
        if self._primary_down_until is None:
            logger.warning(
                "rate limit store unavailable; limiting in this process only",
                extra={"limiter": self._name, "reason": reason},
            )
        self._primary_down_until = self._clock() + self._retry_seconds
        self._observer.backend_failed(self._name, reason)

    def _primary_answered(self) -> None:
        if self._primary_down_until is not None:
            logger.info("rate limit store back; limits shared again", extra={"limiter": self._name})
            self._primary_down_until = None
