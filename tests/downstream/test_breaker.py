"""The circuit breaker's state machine, on a fake clock: it opens after consecutive
failures, fails fast while open, lets one trial through after the wait, and closes or
reopens on that trial's result."""

from __future__ import annotations

import pytest

from app.downstream.breaker import BreakerState, CircuitBreaker
from app.downstream.errors import DownstreamCircuitOpenError


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def changes() -> list[tuple[str, BreakerState]]:
    return []


@pytest.fixture
def breaker(clock: FakeClock, changes: list[tuple[str, BreakerState]]) -> CircuitBreaker:
    return CircuitBreaker(
        "payments",
        failure_threshold=3,
        open_seconds=10,
        clock=clock,
        on_change=lambda service, state: changes.append((service, state)),
    )


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        trial = breaker.acquire()
        breaker.record_failure(trial=trial)


def test_it_stays_closed_below_the_threshold(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)

    assert breaker.state is BreakerState.CLOSED
    assert breaker.acquire() is False


def test_a_success_resets_the_count_of_consecutive_failures(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    breaker.record_success(trial=breaker.acquire())
    fail(breaker, 2)

    assert breaker.state is BreakerState.CLOSED


def test_it_opens_at_the_threshold_and_then_refuses_without_a_call(
    breaker: CircuitBreaker, changes: list[tuple[str, BreakerState]], clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.now += 4.2

    with pytest.raises(DownstreamCircuitOpenError) as refused:
        breaker.acquire()

    assert breaker.state is BreakerState.OPEN
    assert changes == [("payments", BreakerState.OPEN)]
    # the caller is told when to come back: the rest of the wait, rounded up
    assert refused.value.retry_after_seconds == 6
    assert refused.value.retryable is True
    # the client boundary does not resend it: it would only be refused again
    assert refused.value.transient is False
    assert refused.value.service == "payments"


def test_after_the_wait_one_trial_passes_and_the_others_are_refused(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.now += 10.01

    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.acquire() is True
    with pytest.raises(DownstreamCircuitOpenError) as refused:
        breaker.acquire()
    assert refused.value.retry_after_seconds == 1


def test_a_successful_trial_closes_the_circuit(
    breaker: CircuitBreaker, clock: FakeClock, changes: list[tuple[str, BreakerState]]
) -> None:
    fail(breaker, 3)
    clock.now += 11

    breaker.record_success(trial=breaker.acquire())

    assert breaker.state is BreakerState.CLOSED
    assert breaker.acquire() is False
    assert [state for _, state in changes] == [
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.CLOSED,
    ]


def test_a_failed_trial_reopens_for_a_whole_new_wait(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.now += 11

    breaker.record_failure(trial=breaker.acquire())
    clock.now += 9

    assert breaker.state is BreakerState.OPEN
    with pytest.raises(DownstreamCircuitOpenError):
        breaker.acquire()


def test_a_released_trial_frees_the_slot_without_deciding(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.now += 11
    breaker.release(trial=breaker.acquire())

    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.acquire() is True


def test_late_answers_of_calls_admitted_before_the_opening_change_nothing(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    early = [breaker.acquire() for _ in range(2)]
    fail(breaker, 3)

    breaker.record_success(trial=early[0])
    breaker.record_failure(trial=early[1])

    assert breaker.state is BreakerState.OPEN
    clock.now += 10.5
    assert breaker.state.value == "half_open"


@pytest.mark.parametrize(("threshold", "seconds"), [(0, 10), (3, 0)])
def test_a_breaker_needs_a_positive_threshold_and_wait(threshold: int, seconds: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        CircuitBreaker("x", failure_threshold=threshold, open_seconds=seconds)
