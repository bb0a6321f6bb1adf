"""A bound on how fast the settler calls the payments and invoicing services.

Hand-written rather than reusing app/ratelimit: those buckets refuse a request that
arrives too fast; the settler must instead wait its turn, and it is one task per
process, so a next-free-slot time is the whole mechanism."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class Pace:
    def __init__(
        self,
        calls_per_second: float,
        *,
        monotonic: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if calls_per_second <= 0:
            raise ValueError("calls_per_second must be positive")
        self._gap = 1.0 / calls_per_second
        self._monotonic = monotonic
        self._sleep = sleep
        self._next = 0.0

    def _now(self) -> float:
        if self._monotonic is not None:
            return self._monotonic()
        return asyncio.get_running_loop().time()

    async def turn(self) -> None:
        """Waits until the next call may go."""
        now = self._now()
        wait = self._next - now
        self._next = max(now, self._next) + self._gap
        if wait > 0:
            await self._sleep(wait)
