"""Identical GETs in flight at once share one exchange (app/downstream/coalesce.py): each
waiter gets objects of its own from the shared answer, or the shared error; a waiter that
gives up leaves the others their answer; nothing outlives the exchange."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from app.downstream.breaker import CircuitBreaker
from app.downstream.coalesce import SingleFlight
from app.downstream.direct import Reply
from app.downstream.errors import (
    DownstreamError,
    DownstreamInvalidResponseError,
    DownstreamRejectedError,
    DownstreamTimeoutError,
    DownstreamUnavailableError,
)
from app.downstream.models import Business
from app.downstream.observe import CallTally
from app.downstream.retry import RetryPolicy
from app.downstream.service import CallMeta, Channel, ServiceClient, build_http_client
from tests.downstream.test_service_client import BUSINESS

PATH = "/v1/businesses/biz_asked"


@dataclass
class GatedService:
    """Answers once the test opens the gate, counting the exchanges it saw."""

    status: int = 200
    body: bytes = json.dumps(BUSINESS).encode()
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    seen: list[httpx.Request] = field(default_factory=list)
    cancelled: int = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return httpx.Response(self.status, content=self.body)


@dataclass
class Rig:
    service: GatedService
    flights: SingleFlight[Reply]
    channel: Channel

    def client(self, request_id: str, tally: CallTally | None = None) -> ServiceClient:
        meta = CallMeta(request_id=request_id, tally=tally or CallTally(), call_cap_seconds=1)
        return ServiceClient(self.channel, meta, share_reads=True)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    service = GatedService()
    http = build_http_client("http://invoicing.test", "t", transport=httpx.MockTransport(service))
    flights: SingleFlight[Reply] = SingleFlight()
    breaker = CircuitBreaker("invoicing", failure_threshold=1000, open_seconds=1)
    channel = Channel("invoicing", http, breaker, RetryPolicy(max_attempts=1), flights=flights)
    async with http:
        yield Rig(service, flights, channel)


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


async def test_identical_reads_in_flight_share_one_exchange_and_get_their_own_objects(
    rig: Rig,
) -> None:
    # given two requests reading the same business at once
    tallies = [CallTally(), CallTally()]
    reads = [
        asyncio.create_task(rig.client(f"req-{n}", tallies[n]).get(PATH, {}, Business))
        for n in range(2)
    ]
    await until(lambda: len(rig.service.seen) == 1)

    # when the service answers
    rig.service.gate.set()
    first, second = await asyncio.gather(*reads)

    # then one exchange served both, each with objects of its own
    assert len(rig.service.seen) == 1
    assert first == second
    assert first is not second
    assert [(t.attempts, t.joined) for t in tallies] == [(1, 0), (0, 1)]
    assert rig.flights.in_flight() == 0


async def test_reads_of_other_paths_or_queries_are_not_shared(rig: Rig) -> None:
    reads = [
        asyncio.create_task(rig.client("a").get(PATH, {}, Business)),
        asyncio.create_task(rig.client("b").get(PATH, {"expand": "x"}, Business)),
        asyncio.create_task(rig.client("c").get(PATH + "x", {}, Business)),
    ]
    await until(lambda: len(rig.service.seen) == 3)
    rig.service.gate.set()
    await asyncio.gather(*reads, return_exceptions=True)

    assert len(rig.service.seen) == 3


async def test_a_read_after_the_exchange_completed_goes_out_again(rig: Rig) -> None:
    rig.service.gate.set()

    await rig.client("a").get(PATH, {}, Business)
    await rig.client("b").get(PATH, {}, Business)

    assert len(rig.service.seen) == 2


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (404, b'{"error": {"code": "not_found"}}', DownstreamRejectedError),
        (500, b"", DownstreamUnavailableError),
        (200, b'{"id": "biz_asked"', DownstreamInvalidResponseError),
        (200, b'{"id": "biz_asked", "amount": NaN}', DownstreamInvalidResponseError),
    ],
    ids=["rejected", "failed", "malformed", "nan"],
)
async def test_a_failure_reaches_every_waiter(
    rig: Rig, status: int, body: bytes, error: type[DownstreamError]
) -> None:
    rig.service.status, rig.service.body = status, body
    reads = [asyncio.create_task(rig.client(f"r{n}").get(PATH, {}, Business)) for n in range(3)]
    await until(lambda: len(rig.service.seen) == 1)

    rig.service.gate.set()
    outcomes = await asyncio.gather(*reads, return_exceptions=True)

    assert [type(outcome) for outcome in outcomes] == [error] * 3
    assert len(rig.service.seen) == 1


async def test_a_read_that_times_out_times_out_for_every_waiter(rig: Rig) -> None:
    reads = [asyncio.create_task(rig.client(f"r{n}").get(PATH, {}, Business)) for n in range(2)]

    outcomes = await asyncio.gather(*reads, return_exceptions=True)

    assert [type(outcome) for outcome in outcomes] == [DownstreamTimeoutError] * 2
    assert len(rig.service.seen) == 1


async def test_the_first_caller_giving_up_leaves_the_others_their_answer(rig: Rig) -> None:
    # given two requests sharing one read, the first of them the one that sent it
    first = asyncio.create_task(rig.client("first").get(PATH, {}, Business))
    await until(lambda: len(rig.service.seen) == 1)
    second = asyncio.create_task(rig.client("second").get(PATH, {}, Business))
    await until(lambda: rig.flights.joined == 1)

    # when the first request is cancelled, then the service answers
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    rig.service.gate.set()

    # then the second gets its answer from the same exchange
    assert (await second).id == "biz_asked"
    assert (len(rig.service.seen), rig.service.cancelled) == (1, 0)


async def test_the_exchange_is_cancelled_when_its_last_waiter_gives_up(rig: Rig) -> None:
    reads = [asyncio.create_task(rig.client(f"r{n}").get(PATH, {}, Business)) for n in range(2)]
    await until(lambda: len(rig.service.seen) == 1 and rig.flights.joined == 1)

    for read in reads:
        read.cancel()
    await asyncio.gather(*reads, return_exceptions=True)
    await until(lambda: rig.service.cancelled == 1)

    assert rig.flights.in_flight() == 0


async def test_writes_are_never_shared(rig: Rig) -> None:
    meta = CallMeta(request_id="w", actor_id="usr_1", call_cap_seconds=1)
    client = ServiceClient(rig.channel, meta)
    writes = [
        asyncio.create_task(client.post(PATH, {"a": 1}, Business, idempotency_key="k"))
        for _ in range(2)
    ]
    await until(lambda: len(rig.service.seen) == 2)
    rig.service.gate.set()
    await asyncio.gather(*writes)

    assert [request.method for request in rig.service.seen] == ["POST", "POST"]


async def test_a_channel_without_flights_sends_every_read() -> None:
    service = GatedService()
    http = build_http_client("http://invoicing.test", "t", transport=httpx.MockTransport(service))
    breaker = CircuitBreaker("invoicing", failure_threshold=1000, open_seconds=1)
    channel = Channel("invoicing", http, breaker, RetryPolicy(max_attempts=1))
    async with http:
        reads = [
            asyncio.create_task(ServiceClient(channel, CallMeta(f"r{n}")).get(PATH, {}, Business))
            for n in range(2)
        ]
        await until(lambda: len(service.seen) == 2)
        service.gate.set()
        await asyncio.gather(*reads)

    assert len(service.seen) == 2


async def test_a_client_that_does_not_share_reads_never_joins_nor_leads(rig: Rig) -> None:
    # given a query's read in flight, and a mutation's client (reads not shared) on the
    # same channel
    shared = asyncio.create_task(rig.client("query").get(PATH, {}, Business))
    await until(lambda: len(rig.service.seen) == 1)
    own = ServiceClient(rig.channel, CallMeta("mutation", call_cap_seconds=1))

    # when the mutation reads the same object, then another query too
    fresh = asyncio.create_task(own.get(PATH, {}, Business))
    await until(lambda: len(rig.service.seen) == 2)
    joined = asyncio.create_task(rig.client("query-2").get(PATH, {}, Business))
    await until(lambda: rig.flights.joined == 1)
    rig.service.gate.set()
    await asyncio.gather(shared, fresh, joined)

    # then the mutation's read went out on its own, after the query's had started, and
    # the second query joined the first query's, not the mutation's
    assert len(rig.service.seen) == 2
