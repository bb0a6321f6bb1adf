"""The event relay against real RabbitMQ and real databases: every event published at
least once with its AMQP properties, marked only after the confirm, nothing lost across a
broker outage, two relays publishing each row once, the outage logged once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tables import domain_events
from app.events import store
from app.events.envelope import EventType
from app.events.publisher import (
    CONFIRM_TIMEOUT_SECONDS,
    CONNECT_TIMEOUT_SECONDS,
    CONTENT_TYPE,
    AmqpPublisher,
)
from app.events.relay import EventRelay, RelayReport
from app.events.store import Backlog, EventStore
from tests.events.broker import Listener, PrivateNode


class CountingReport(RelayReport):
    def __init__(self) -> None:
        self.confirmed = 0
        self.failures = 0
        self.backlogs: list[Backlog] = []

    def published(self, count: int) -> None:
        self.confirmed += count

    def failed(self, count: int) -> None:
        self.failures += count

    def backlog(self, backlog: Backlog, now: datetime) -> None:
        self.backlogs.append(backlog)


async def record_many(engine: AsyncEngine, count: int, *, subjects: int = 5) -> None:
    for n in range(count):
        async with engine.begin() as connection:
            await store.record(
                connection,
                EventType.PAYMENT_SUCCEEDED,
                "biz_GB1",
                f"pay_{n % subjects}",
                {"id": f"pay_{n % subjects}", "amount": {"amount": str(n), "currency": "GBP"}},
                occurred_at=datetime.now(UTC),
            )


async def drained(engine: AsyncEngine, *, within: float) -> None:
    """Until no row is unpublished (polling the table), or `within` seconds."""
    ends = time.monotonic() + within
    while time.monotonic() < ends:
        if not (await EventStore(engine).backlog()).unpublished:
            return
        await asyncio.sleep(0.2)


@pytest.fixture
async def listener(rabbitmq_server_url: str) -> AsyncIterator[Listener]:
    queue = Listener(rabbitmq_server_url)
    await queue.bind()
    yield queue
    await queue.delete()


async def test_a_relay_publishes_each_event_as_a_persistent_confirmed_message(
    migrated: AsyncEngine, listener: Listener
) -> None:
    # Given three recorded events and a relay on the broker
    await record_many(migrated, 3, subjects=1)
    report = CountingReport()
    relay = EventRelay(EventStore(migrated), AmqpPublisher(listener.url), report=report)

    # When it runs a round
    try:
        assert await relay.run_once() == 3
    finally:
        await relay._publisher.close()

    # Then each arrived once, in order, with the envelope's id, type and routing key
    received = await listener.drain(at_least=3)
    assert [event.sequence for event, _ in received] == [1, 2, 3]
    for event, message in received:
        assert message.message_id == event.id
        assert message.content_type == CONTENT_TYPE
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert message.routing_key == "biz_GB1.payment.succeeded"
        assert message.type == "payment.succeeded"
    # And every row is marked published, counted once
    assert (await EventStore(migrated).backlog()).unpublished == 0
    assert (report.confirmed, report.failures) == (3, 0)


async def test_without_a_broker_rows_stay_unpublished_and_are_retried(
    migrated: AsyncEngine, unused_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a relay whose broker refuses connections
    await record_many(migrated, 2)
    report = CountingReport()
    relay = EventRelay(
        EventStore(migrated),
        AmqpPublisher(f"amqp://guest:guest@127.0.0.1:{unused_port}/", connect_timeout=1),
        report=report,
    )

    # When it tries twice (the rows due again in between)
    with caplog.at_level(logging.WARNING, logger="gateway.events"):
        assert await relay.run_once() == 0
        async with migrated.begin() as connection:
            await connection.execute(
                update(domain_events).values(next_attempt_at=datetime.now(UTC))
            )
        assert await relay.run_once() == 0

    # Then nothing is marked, each failure is counted, and the outage is logged once
    backlog = await EventStore(migrated).backlog()
    assert backlog.unpublished == 2
    assert report.failures == 4
    assert relay.broker_down
    assert [r.getMessage() for r in caplog.records] == [
        "event broker unavailable; events are kept and retried"
    ]


async def test_two_relays_publish_each_row_once(migrated: AsyncEngine, listener: Listener) -> None:
    # Given 300 events and two relays (as in two gateway processes), small batches
    await record_many(migrated, 300)
    relays = [
        EventRelay(EventStore(migrated), AmqpPublisher(listener.url), batch=20) for _ in range(2)
    ]

    # When both run until nothing is left
    async def drain(relay: EventRelay) -> int:
        total = 0
        while published := await relay.run_once():
            total += published
        return total

    try:
        counts = await asyncio.gather(*(drain(relay) for relay in relays))
    finally:
        for relay in relays:
            await relay._publisher.close()

    # Then every event was published exactly once, both relays took part (on
    # PostgreSQL, SKIP LOCKED; SQLite serialises the claims)
    assert sum(counts) == 300
    received = await listener.drain(at_least=300)
    ids = [event.id for event, _ in received]
    assert len(ids) == 300
    assert len(set(ids)) == 300
    if migrated.dialect.name == "postgresql":
        assert min(counts) > 0


async def test_nothing_is_lost_when_the_broker_stops_mid_stream(
    migrated: AsyncEngine, private_rabbitmq: PrivateNode, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a queue on the private broker and a relay running, publishing a stream
    listener = Listener(private_rabbitmq.url)
    await listener.bind()
    report = CountingReport()
    relay = EventRelay(
        EventStore(migrated),
        AmqpPublisher(private_rabbitmq.url, connect_timeout=1),
        report=report,
        batch=10,
        interval_seconds=0.05,
    )
    stop = asyncio.Event()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="gateway.events"):
        running = asyncio.create_task(relay.run_forever(stop))
        try:
            await record_many(migrated, 40)
            # When the broker stops (every connection closed) while events keep coming
            await asyncio.to_thread(private_rabbitmq.stop_app)
            await record_many(migrated, 40)
            await asyncio.sleep(0.5)
            assert relay.broker_down
            # ... and comes back
            await asyncio.to_thread(private_rabbitmq.start_app)
            await record_many(migrated, 40)
            # Then the relay drains the backlog
            await drained(migrated, within=20)
        finally:
            stop.set()
            await asyncio.wait_for(running, 10)
        received = await listener.drain(at_least=120)
        await listener.delete()

    # Then every event arrived at least once; any duplicate has the same id and sequence
    assert (await EventStore(migrated).backlog()).unpublished == 0
    by_id = {event.id: (event.subject, event.sequence) for event, _ in received}
    assert len(by_id) == 120
    per_subject = sorted(by_id.values())
    assert per_subject == sorted((f"pay_{s}", n) for s in range(5) for n in range(1, 25))
    # And the outage was logged once when it began and once when it ended
    messages = [r.getMessage() for r in caplog.records if r.name == "gateway.events"]
    assert messages == [
        "event broker unavailable; events are kept and retried",
        "event broker available again; publishing resumed",
    ]
    assert report.failures > 0
    assert time.monotonic() - started < 30


async def test_a_relay_that_stops_closes_its_connection(
    migrated: AsyncEngine, listener: Listener
) -> None:
    # Given a relay that published once
    await record_many(migrated, 1)
    publisher = AmqpPublisher(listener.url)
    relay = EventRelay(EventStore(migrated), publisher, interval_seconds=0.05)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run_forever(stop))
    await listener.drain(at_least=1)

    # When it is stopped
    stop.set()
    await asyncio.wait_for(running, 10)

    # Then its connection is closed (reopened on demand by a later publish)
    assert publisher._connection is None


def test_the_publish_timeout_is_shorter_than_the_claim_hold() -> None:
    # A publish that gives up must do so before another relay may take its rows.
    assert timedelta(seconds=CONFIRM_TIMEOUT_SECONDS + CONNECT_TIMEOUT_SECONDS) < (
        store.DEFAULT_HOLD
    )
