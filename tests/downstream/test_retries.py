"""The client boundary resends transient failures by itself: GETs, and POSTs under the
same Idempotency-Key; connection failures, 429 (after its Retry-After), 502, 503 and 504;
never other answers. Bounded in attempts, by the request's deadline and by the breaker."""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from app.core.deadline import Deadline
from app.downstream.breaker import BreakerState, CircuitBreaker
from app.downstream.errors import (
    DownstreamCircuitOpenError,
    DownstreamError,
    DownstreamInvalidResponseError,
    DownstreamRateLimitedError,
    DownstreamRejectedError,
    DownstreamTimeoutError,
    DownstreamUnavailableError,
)
from app.downstream.models import Business, ListEnvelope
from app.downstream.observe import CallTally, QuietObserver
from app.downstream.retry import RetryPolicy
from app.downstream.service import CallMeta, Channel, ServiceClient, build_http_client

EMPTY = {"object": "list", "has_more": False, "data": []}
Reply = Callable[[httpx.Request], httpx.Response]


@dataclass
class Script:
    """A fake service answering from a list of replies, then 200 with an empty list."""

    replies: list[Reply]
    seen: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if self.replies:
            return self.replies.pop(0)(request)
        return httpx.Response(200, json=EMPTY)


def status(code: int, **headers: str) -> Reply:
    return lambda _request: httpx.Response(code, headers=headers, json={"error": {}})


def raising(exc_type: type[httpx.TransportError]) -> Reply:
    def reply(request: httpx.Request) -> httpx.Response:
        raise exc_type("boom", request=request)

    return reply


class RecordingObserver(QuietObserver):
    def __init__(self) -> None:
        self.waits: list[tuple[str, float]] = []

    def retry_scheduled(self, service: str, reason: str, wait_seconds: float) -> None:
        self.waits.append((reason, wait_seconds))


@dataclass
class Rig:
    script: Script
    client: ServiceClient
    tally: CallTally
    observer: RecordingObserver
    breaker: CircuitBreaker


@pytest.fixture(params=[True, False], ids=["lazy-retries", "eager-retries"])
async def rig_factory(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., Rig]]:
    # Every scenario both ways: the first attempt outside tenacity (the default) and
    # every attempt inside it; the waits, stops, callbacks and errors must not differ.
    opened: list[httpx.AsyncClient] = []

    def make(
        *replies: Reply,
        policy: RetryPolicy | None = None,
        deadline: Deadline | None = None,
        threshold: int = 100,
    ) -> Rig:
        script = Script(list(replies))
        http = build_http_client("http://payments.test", "t", transport=httpx.MockTransport(script))
        opened.append(http)
        observer = RecordingObserver()
        breaker = CircuitBreaker("payments", failure_threshold=threshold, open_seconds=30)
        # Backoff pinned to zero: these tests count attempts, not seconds.
        channel = Channel(
            "payments",
            http,
            breaker,
            policy or RetryPolicy(jitter=lambda: 0.0),
            observer,
            lazy_retries=request.param,
        )
        tally = CallTally()
        meta = CallMeta(
            request_id="req-retries-1", actor_id="usr_1", deadline=deadline, tally=tally
        )
        return Rig(script, ServiceClient(channel, meta), tally, observer, breaker)

    yield make
    for http in opened:
        await http.aclose()


async def read(rig: Rig) -> ListEnvelope[Business]:
    return await rig.client.get("/v1/balances", {"business_ids": "biz_a"}, ListEnvelope[Business])


@pytest.mark.parametrize(
    "first",
    [
        status(502),
        status(503),
        status(504),
        status(429, **{"Retry-After": "0"}),
        raising(httpx.ConnectError),
        raising(httpx.ConnectTimeout),
        raising(httpx.RemoteProtocolError),
        raising(httpx.ReadError),
    ],
    ids=["502", "503", "504", "429", "refused", "connect-timeout", "dropped", "reset"],
)
async def test_a_transient_failure_is_resent_once_and_the_answer_used(
    rig_factory: Callable[..., Rig], first: Reply
) -> None:
    rig = rig_factory(first)

    envelope = await read(rig)

    assert envelope.data == []
    assert len(rig.script.seen) == 2
    assert (rig.tally.attempts, rig.tally.retries, rig.tally.failures) == (2, 1, 1)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (status(500), DownstreamUnavailableError),
        (status(501), DownstreamUnavailableError),
        (status(400), DownstreamRejectedError),
        (status(404), DownstreamRejectedError),
        (status(409), DownstreamRejectedError),
        (status(401), DownstreamUnavailableError),
        (status(302, Location="https://attacker.example/"), DownstreamInvalidResponseError),
        (lambda _r: httpx.Response(200, content=b"{not json"), DownstreamInvalidResponseError),
        (raising(httpx.ReadTimeout), DownstreamTimeoutError),
        (raising(httpx.WriteTimeout), DownstreamTimeoutError),
        (raising(httpx.PoolTimeout), DownstreamTimeoutError),
    ],
    ids=[
        "500",
        "501",
        "400",
        "404",
        "409",
        "401",
        "redirect",
        "garbage",
        "read-timeout",
        "write-timeout",
        "pool-timeout",
    ],
)
async def test_other_failures_are_never_resent(
    rig_factory: Callable[..., Rig], reply: Reply, error: type[DownstreamError]
) -> None:
    rig = rig_factory(reply, reply)

    with pytest.raises(error):
        await read(rig)

    assert len(rig.script.seen) == 1
    assert rig.observer.waits == []


async def test_attempts_are_bounded(rig_factory: Callable[..., Rig]) -> None:
    rig = rig_factory(*[status(503)] * 10)

    with pytest.raises(DownstreamUnavailableError) as raised:
        await read(rig)

    assert len(rig.script.seen) == 3
    assert raised.value.detail == "answered 503"


async def test_backoff_is_exponential_with_full_jitter_up_to_its_cap() -> None:
    policy = RetryPolicy(base_seconds=0.1, max_backoff_seconds=0.5, jitter=lambda: 1.0)

    waits = [round(policy.backoff(attempt), 3) for attempt in range(1, 6)]

    assert waits == [0.1, 0.2, 0.4, 0.5, 0.5]
    assert RetryPolicy(jitter=lambda: 0.0).backoff(3) == 0.0


async def test_a_retry_after_within_bounds_is_waited_out(rig_factory: Callable[..., Rig]) -> None:
    rig = rig_factory(status(429, **{"Retry-After": "1"}))
    started = time.monotonic()

    await read(rig)

    assert rig.observer.waits == [("DownstreamRateLimitedError", 1.0)]
    assert time.monotonic() - started >= 1.0
    assert len(rig.script.seen) == 2


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (status(429, **{"Retry-After": "30"}), DownstreamRateLimitedError),
        (status(503, **{"Retry-After": "30"}), DownstreamUnavailableError),
    ],
    ids=["429", "503"],
)
async def test_a_retry_after_longer_than_allowed_goes_to_the_caller_at_once(
    rig_factory: Callable[..., Rig], reply: Reply, error: type[DownstreamUnavailableError]
) -> None:
    rig = rig_factory(reply)

    with pytest.raises(error) as raised:
        await read(rig)

    assert raised.value.retry_after_seconds == 30
    assert len(rig.script.seen) == 1


async def test_no_resend_starts_when_the_deadline_cannot_fit_its_wait(
    rig_factory: Callable[..., Rig],
) -> None:
    # given a backoff of 0.3 s and a request with 0.2 s left
    policy = RetryPolicy(base_seconds=0.3, jitter=lambda: 1.0)
    rig = rig_factory(status(503), policy=policy, deadline=Deadline(0.2))

    with pytest.raises(DownstreamUnavailableError):
        await read(rig)

    assert len(rig.script.seen) == 1


async def test_a_keyed_post_is_resent_with_the_same_key_and_body(
    rig_factory: Callable[..., Rig],
) -> None:
    charged = {
        "id": "pay_1",
        "object": "payment",
    }
    rig = rig_factory(
        raising(httpx.RemoteProtocolError),
        status(502),
        lambda _r: httpx.Response(200, json=charged),
    )

    with pytest.raises(DownstreamInvalidResponseError):
        # the stub's payment is not a full contract object; what matters is what was sent
        await rig.client.post(
            "/v1/payments", {"amount": 100}, ListEnvelope[Business], idempotency_key="k-1"
        )

    keys = [request.headers["Idempotency-Key"] for request in rig.script.seen]
    bodies = {request.content for request in rig.script.seen}
    assert keys == ["k-1", "k-1", "k-1"]
    assert bodies == {b'{"amount":100}'}


async def test_a_post_without_a_key_is_refused_before_anything_is_sent(
    rig_factory: Callable[..., Rig],
) -> None:
    rig = rig_factory()

    with pytest.raises(ValueError, match="Idempotency-Key"):
        await rig.client.post("/v1/payments", {}, ListEnvelope[Business], idempotency_key="")

    assert rig.script.seen == []


async def test_an_opening_circuit_stops_the_resends_and_later_calls_fail_fast(
    rig_factory: Callable[..., Rig],
) -> None:
    # given a breaker that opens after two failures, and a service failing everything
    rig = rig_factory(*[status(503)] * 10, threshold=2)

    # when a read meets the failures
    with pytest.raises(DownstreamCircuitOpenError) as first:
        await read(rig)

    # then the third attempt was refused by the open circuit, not sent
    assert len(rig.script.seen) == 2
    assert rig.breaker.state is BreakerState.OPEN
    assert first.value.retry_after_seconds == 30
    # and later calls are refused without a request, in well under 10 ms each
    durations = []
    for _ in range(21):
        started = time.perf_counter()
        with pytest.raises(DownstreamCircuitOpenError):
            await read(rig)
        durations.append(time.perf_counter() - started)
    assert len(rig.script.seen) == 2
    assert statistics.median(durations) < 0.01


async def test_a_4xx_does_not_count_towards_opening_the_circuit(
    rig_factory: Callable[..., Rig],
) -> None:
    rig = rig_factory(*[status(400)] * 5, *[status(429, **{"Retry-After": "60"})] * 5, threshold=2)

    for _ in range(10):
        with pytest.raises(DownstreamError):
            await read(rig)

    assert rig.breaker.state is BreakerState.CLOSED
