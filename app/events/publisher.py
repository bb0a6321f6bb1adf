"""Publishing events to RabbitMQ (AMQP_URL): one connection per gateway process, a channel
with publisher confirms, the durable topic exchange EXCHANGE.

Each message: persistent (delivery mode 2), message_id = the event's id, content type
`application/cloudevents+json` (the structured CloudEvents mode: the body is the whole
envelope, so a consumer needs no AMQP headers to read it), routing key
`<business_id>.<type>`, mandatory off (an event no queue is bound for is nobody's
loss: consumers bind their queues before they rely on them).

`publish` returns only once the broker confirmed every message of the batch; any
failure (a nack, a timeout, a lost connection) raises, and the caller keeps the rows
unpublished and retries them. Confirms lost with the connection make the retry publish
a message twice: consumers deduplicate by id (docs/events.md). The connection is our own,
not aio-pika's connect_robust: a publish on a robust connection that is reconnecting
fails anyway, and the relay already retries with backoff; a plain connection reopened on
the next round keeps one place (the relay) deciding when to try again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange

from app.events.envelope import EXCHANGE, Event

CONTENT_TYPE = "application/cloudevents+json"
# A batch not confirmed within this is treated as failed (and published again later).
CONFIRM_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 5.0


class _QuietReconnects(logging.Filter):
    """aiormq logs an ERROR for every connection that fails; the relay retries every few
    seconds through an outage and logs the outage itself, once (app/events/relay.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("error when creating transport")


logging.getLogger("aiormq.connection").addFilter(_QuietReconnects())


class Publisher(Protocol):
    async def publish(self, events: Sequence[Event]) -> None:
        """Returns once the broker confirmed every event; raises otherwise."""

    async def close(self) -> None: ...


def message_of(event: Event) -> aio_pika.Message:
    return aio_pika.Message(
        body=event.to_json(),
        message_id=event.id,
        content_type=CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        timestamp=event.time,
        type=event.type.value,
    )


class AmqpPublisher:
    def __init__(
        self,
        url: str,
        *,
        confirm_timeout: float = CONFIRM_TIMEOUT_SECONDS,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
    ) -> None:
        self._url = url
        self._confirm_timeout = confirm_timeout
        self._connect_timeout = connect_timeout
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None

    async def _ready(self) -> AbstractExchange:
        if (
            self._exchange is not None
            and self._connection is not None
            and not self._connection.is_closed
            and self._channel is not None
            and not self._channel.is_closed
        ):
            return self._exchange
        await self.close()
        connection = await aio_pika.connect(self._url, timeout=self._connect_timeout)
        try:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.declare_exchange(
                EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
            )
        except BaseException:  # noqa: BLE001 - re-raised: the half-open connection is closed first
            await connection.close()
            raise
        self._connection, self._channel, self._exchange = connection, channel, exchange
        return exchange

    async def publish(self, events: Sequence[Event]) -> None:
        if not events:
            return
        exchange = await self._ready()
        try:
            async with asyncio.timeout(self._confirm_timeout):
                # All in flight at once; each await is that message's confirm.
                await asyncio.gather(
                    *(
                        exchange.publish(message_of(event), event.routing_key, mandatory=False)
                        for event in events
                    )
                )
        except BaseException:  # noqa: BLE001 - re-raised: whatever went wrong, the next round starts from a fresh connection
            await self.close()
            raise

    async def close(self) -> None:
        connection, self._connection, self._channel, self._exchange = (
            self._connection,
            None,
            None,
            None,
        )
        if connection is not None and not connection.is_closed:
            # A dead connection that closes badly is still gone.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout=self._connect_timeout)
