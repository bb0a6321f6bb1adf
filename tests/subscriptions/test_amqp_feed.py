"""The broker feed against the real RabbitMQ (TEST_AMQP_URL, by default guest@127.0.0.1:5672;
the shared `rabbitmq_server_url` fixture: skipped locally without one, failed on CI): envelopes
published to the exchange directly, as the relay does, reach every process's own queue.

Broker loss is made with a TCP proxy in front of the broker: cutting its connections is
what a broker restart or a network failure looks like to the feed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aio_pika
import pytest

from app.events.envelope import EXCHANGE, Event
from app.subscriptions.amqp_feed import AmqpFeed
from tests.subscriptions.conftest import event


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


class Proxy:
    """Forwards TCP to the broker; `cut()` drops every connection, as a restart does."""

    def __init__(self, broker: str) -> None:
        parts = urlsplit(broker)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 5672)
        self.url = broker.replace(parts.netloc.rsplit("@", 1)[-1], "127.0.0.1:{port}")
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        self._writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def proxy(rabbitmq_server_url: str) -> AsyncIterator[Proxy]:
    proxy = Proxy(rabbitmq_server_url)
    yield proxy
    await proxy.close()


async def test_after_losing_the_broker_it_reconnects_and_receives_again(
    proxy: Proxy, rabbitmq_server_url: str
) -> None:
    port = await proxy.start()
    sink = Sink()
    feed = AmqpFeed(proxy.url.format(port=port), sink, first_backoff=0.05)
    async with running(feed):
        before = event("invoice.paid", "inv_GB0003", sequence=1)
        await publish(rabbitmq_server_url, before.to_json())
        await sink.wait_for(1)
        # When the connection to the broker is lost
        proxy.cut()
        for _ in range(500):
            if feed.connections == 2 and feed.consuming.is_set():
                break
            await asyncio.sleep(0.01)
        # Then the feed reconnects with a new queue, and events flow again
        assert (feed.connections, feed.consuming.is_set()) == (2, True)
        after = event("invoice.paid", "inv_GB0003", sequence=2)
        await publish(rabbitmq_server_url, after.to_json())
        assert await sink.wait_for(2) == [before, after]
