"""What every rate limiter answers, and the token bucket arithmetic they share.

A bucket holds up to `capacity` tokens and gains `refill_per_second` tokens a second; a
request of weight w is admitted when the bucket holds at least w tokens, and takes them.
A refused request takes nothing, so a client that waits `retry_after_seconds` gets in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# Seconds from an arbitrary origin; only differences matter.
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Limit:
    capacity: int
    refill_per_second: float

    def __post_init__(self) -> None:
        if self.capacity < 1 or not self.refill_per_second > 0:
            raise ValueError("a limit needs a capacity of at least 1 and a positive refill")


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    # Seconds until a request of the same weight would be admitted; 0 when admitted.
    retry_after_seconds: float
    # Whole tokens left after this decision.
    remaining: int

    @property
    def retry_after_header(self) -> int:
        """Retry-After is whole seconds; rounding down would invite a refused retry."""
        return max(1, math.ceil(self.retry_after_seconds))


class LimiterUnavailableError(Exception):
    """The limiter's shared store could not answer (connection, timeout, protocol)."""


class RateLimiter(Protocol):
    async def acquire(self, key: str, weight: int) -> Decision:
        """Admit and charge a request of `weight` tokens, or refuse it and charge nothing."""

    async def peek(self, key: str, weight: int = 1) -> Decision:
        """Whether a request of `weight` would be admitted now; charges nothing."""


@dataclass(slots=True)
class BucketState:
    tokens: float
    updated_at: float


def refill(state: BucketState, limit: Limit, now: float) -> None:
    # A clock that steps back (or another process's clock) never takes tokens away.
    if now > state.updated_at:
        state.tokens = min(
            limit.capacity, state.tokens + (now - state.updated_at) * limit.refill_per_second
        )
        state.updated_at = now


def decide(state: BucketState, limit: Limit, weight: int, *, take: bool) -> Decision:
    """Admit or refuse `weight` against a refilled bucket, charging it when admitted and `take`."""
    weight = clamp_weight(weight, limit)
    if state.tokens >= weight:
        if take:
            state.tokens -= weight
        return Decision(True, 0.0, math.floor(state.tokens))
    missing = weight - state.tokens
    return Decision(False, missing / limit.refill_per_second, math.floor(state.tokens))


def clamp_weight(weight: int, limit: Limit) -> int:
    """A request never costs more than a full bucket: otherwise it could never run, and its
    Retry-After would be a lie. At least 1: every request costs something."""
    return min(max(weight, 1), limit.capacity)
