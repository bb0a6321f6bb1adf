"""The broker feed against the real RabbitMQ (TEST_AMQP_URL, by default guest@127.0.0.1:5672;
the shared `rabbitmq_server_url` fixture: skipped locally without one, failed on CI): envelopes
published to the exchange directly, as the relay does, reach every process's own queue.

Broker loss is made with a TCP hop in front of the broker (tests/tcp_hop.py): cutting its
connections is
what a broker restart or a network failure looks like to the feed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import aio_pika
import pytest

from app.events.envelope import EXCHANGE, Event
from app.subscriptions.amqp_feed import AmqpFeed
from tests.subscriptions.conftest import event
from tests.tcp_hop import TcpHop


class Sink:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.arrived = asyncio.Event()

    def publish(self, event: Event) -> None:
        self.events.append(event)
        self.arrived.set()

    async def wait_for(self, count: int) -> list[Event]:
        for _ in range(500):
            if len(self.events) >= count:
                return self.events
            await asyncio.sleep(0.01)
        raise AssertionError(f"{len(self.events)} of {count} events arrived")


@contextlib.asynccontextmanager
async def running(feed: AmqpFeed) -> AsyncIterator[AmqpFeed]:
    stop = asyncio.Event()
    task = asyncio.create_task(feed.run_forever(stop))
    try:
        async with asyncio.timeout(10):
            await feed.consuming.wait()
        yield feed
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await task


async def publish(broker: str, *messages: bytes) -> None:
    connection = await aio_pika.connect(broker)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        for body in messages:
            await exchange.publish(
                aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key="biz_GBdemo.invoice.paid",
            )


async def test_two_gateway_processes_each_receive_every_event(rabbitmq_server_url: str) -> None:
    broker = rabbitmq_server_url
    # Given two feeds (two gateway processes), each with its own queue
    first, second = Sink(), Sink()
    async with running(AmqpFeed(broker, first)), running(AmqpFeed(broker, second)):
        # When events are published to the exchange
        events = [event("invoice.paid", "inv_GB0003", sequence=n) for n in (1, 2)]
        await publish(broker, *(one.to_json() for one in events))
        # Then both receive both, in order
        assert await first.wait_for(2) == events
        assert await second.wait_for(2) == events


async def test_a_message_that_is_not_an_event_is_skipped(rabbitmq_server_url: str) -> None:
    sink = Sink()
    async with running(AmqpFeed(rabbitmq_server_url, sink)) as feed:
        good = event("invoice.paid", "inv_GB0003")
        await publish(rabbitmq_server_url, b"{not json", b'{"specversion": "0.3"}', good.to_json())
        assert await sink.wait_for(1) == [good]
    assert feed.skipped == 2


@dataclass
class BrokerHop:
    """The broker behind a TCP hop (tests/tcp_hop.py); `url` names the hop."""

    hop: TcpHop
    url: str


@pytest.fixture
async def proxy(rabbitmq_server_url: str) -> AsyncIterator[BrokerHop]:
    parts = urlsplit(rabbitmq_server_url)
    hop = TcpHop(parts.hostname or "127.0.0.1", parts.port or 5672)
    port = await hop.start()
    host = parts.netloc.rsplit("@", 1)[-1]
    yield BrokerHop(hop, rabbitmq_server_url.replace(host, f"127.0.0.1:{port}"))
    await hop.close()


async def test_after_losing_the_broker_it_reconnects_and_receives_again(
    proxy: BrokerHop, rabbitmq_server_url: str
) -> None:
    sink = Sink()
    feed = AmqpFeed(proxy.url, sink, first_backoff=0.05)
    async with running(feed):
        before = event("invoice.paid", "inv_GB0003", sequence=1)
        await publish(rabbitmq_server_url, before.to_json())
        await sink.wait_for(1)
        # When the connection to the broker is lost
        proxy.hop.cut()
        proxy.hop.restore()
        for _ in range(500):
            if feed.connections == 2 and feed.consuming.is_set():
                break
            await asyncio.sleep(0.01)
        # Then the feed reconnects with a new queue, and events flow again
        assert (feed.connections, feed.consuming.is_set()) == (2, True)
        after = event("invoice.paid", "inv_GB0003", sequence=2)
        await publish(rabbitmq_server_url, after.to_json())
        assert await sink.wait_for(2) == [before, after]
