"""The settler's bounds: its calls wait their turn, and each payment backs off."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.settlement.pace import Pace
from app.settlement.settler import SettlementPolicy


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_calls_are_spaced_by_the_rate() -> None:
    # given a pace of 4 calls a second
    time = FakeTime()
    pace = Pace(4, monotonic=time.monotonic, sleep=time.sleep)

    # when five calls want to go at once
    for _ in range(5):
        await pace.turn()

    # then the first goes at once and each next one waits a quarter second
    assert time.slept == [0.25, 0.25, 0.25, 0.25]


async def test_a_pause_between_calls_is_not_saved_up() -> None:
    time = FakeTime()
    pace = Pace(4, monotonic=time.monotonic, sleep=time.sleep)
    await pace.turn()
    time.now += 60  # a quiet minute
    await pace.turn()
    await pace.turn()
    # no burst of 240 calls after the quiet minute: the gap holds again
    assert time.slept == [0.25]


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Pace(0)


def test_backoff_doubles_per_check_up_to_the_maximum() -> None:
    policy = SettlementPolicy(poll=timedelta(seconds=30), max_backoff=timedelta(hours=1))
    assert [policy.backoff(n).total_seconds() for n in range(1, 9)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
    ]
    assert policy.backoff(10_000) == timedelta(hours=1)
