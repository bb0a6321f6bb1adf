"""The broker feed (AMQP_URL set): each gateway process consumes the events exchange
through its own queue and hands every event to its hub, so an event caused by a request
on process A reaches a subscriber on process B.

Decisions:
- Its own queue: server-named, exclusive and auto-delete, bound with "#" (every
  business). It lives exactly as long as this process's connection: a stopped replica
  leaves nothing behind to fill up. Per-business bindings would save traffic only when
  a process's subscribers cover few businesses, at the price of a bind per subscribe;
  the hub already skips businesses nobody watches, in microseconds.
- No acknowledgements (no_ack): the queue dies with the process, so an ack would
  protect nothing; subscriptions are live updates, and a client that reconnects reads
  the current state again.
- The exchange is declared here too (topic, durable, the same arguments as the
  publisher's), so either side may start first; declaring is idempotent.
- Broker lost: reconnect with exponential backoff (0.5 s doubling to 30 s, with jitter
  so that replicas do not reconnect in step). Events published while this process had
  no queue are not seen by its subscribers; the gap shows as a jump in `sequence`.
- A message that is not a version-1 envelope is logged and skipped, never fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

from app.events.envelope import EXCHANGE, EventFormatError, from_json
from app.subscriptions.table_feed import Sink

logger = logging.getLogger(__name__)

FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
PREFETCH = 256


class AmqpFeed:
    def __init__(
        self,
        url: str,
        sink: Sink,
        *,
        first_backoff: float = FIRST_BACKOFF_SECONDS,
        max_backoff: float = MAX_BACKOFF_SECONDS,
    ) -> None:
        self._url = url
        self._sink = sink
        self._first_backoff = first_backoff
        self._max_backoff = max_backoff
        # Set while a queue is bound and consuming (readiness, tests).
        self.consuming = asyncio.Event()
        self.connections = 0
        self.skipped = 0

    async def run_forever(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                await self._session(stop)
                failures = 0
            except Exception as exc:  # noqa: BLE001 - any broker failure: back off and retry
                logger.warning("event feed lost the broker", extra={"error": type(exc).__name__})
            finally:
                self.consuming.clear()
            if stop.is_set():
                return
            delay = min(self._max_backoff, self._first_backoff * 2**failures)
            failures += 1
            jitter = random.uniform(0.8, 1.2)  # noqa: S311 - not for secrets
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay * jitter)

    async def _session(self, stop: asyncio.Event) -> None:
        connection = await aio_pika.connect(self._url, timeout=10)
        async with connection:
            lost: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

            def on_close(*_: Any) -> None:
                if not lost.done():
                    lost.set_result(True)

            connection.close_callbacks.add(on_close)
            channel = await connection.channel()
            channel.close_callbacks.add(on_close)
            await channel.set_qos(prefetch_count=PREFETCH)
            exchange = await channel.declare_exchange(
                EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
            )
            queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
            await queue.bind(exchange, routing_key="#")
            await queue.consume(self._on_message, no_ack=True)
            self.connections += 1
            self.consuming.set()
            logger.info("event feed consuming", extra={"queue": queue.name})
            stopping: asyncio.Future[bool] = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait([stopping, lost], return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
            if lost.done() and not stop.is_set():
                raise ConnectionError("broker connection closed")

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            event = from_json(message.body)
        except EventFormatError as exc:
            self.skipped += 1
            logger.warning("skipped a message that is not an event", extra={"reason": str(exc)})
            return
        self._sink.publish(event)
