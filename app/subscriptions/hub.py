"""In-process fan-out: one hub per gateway process hands each domain event to the open
subscriptions of its business.

Decisions:
- Keyed by business. Every subscription concerns exactly one business (an invoice's, or
  the one named), so an event is offered only to that business's subscribers: the cost
  of an event is its business's subscriptions, not every open one.
- Bounded queues. Each subscription holds at most `QUEUE_SIZE` undelivered events. One
  that would overflow is closed (SlowConsumerError at its next read, its backlog
  discarded and counted as dropped) instead of growing the process's memory: a client
  that cannot keep up resubscribes and re-reads the current state.
- Per-principal limit. At most `MAX_OPEN_PER_PRINCIPAL` open subscriptions per token
  subject in this process, across connections and transports: a token cannot hold
  open an unbounded number of queues and tasks. A constant, not a setting (the
  settings' names are fixed by contracts/README.md).
- Deduplicated by event id. The feeds deliver at least once (a broker redelivers, the
  table poller looks back): the hub remembers the last `DEDUPE_WINDOW` ids and offers an
  id once. Consumers can still order and deduplicate by (subject, sequence).

`publish` is synchronous and never blocks: a feed's consumer is never held up by a
subscriber.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from app.events.envelope import Event

MAX_OPEN_PER_PRINCIPAL = 10
QUEUE_SIZE = 64
DEDUPE_WINDOW = 4096


class HubReport(Protocol):
    def opened(self, transport: str) -> None: ...
    def closed(self, transport: str) -> None: ...
    def dropped_some(self, reason: str, count: int = 1) -> None: ...


class SubscriptionLimitError(Exception):
    """The principal already holds its maximum of open subscriptions."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"At most {limit} subscriptions may be open at once per caller.")
        self.limit = limit


class SlowConsumerError(Exception):
    """The subscriber fell `QUEUE_SIZE` events behind; its stream is closed."""


class Subscriber:
    """One open subscription's queue. Read with `next()`; closed by the hub's context."""

    def __init__(self, subject: str, business_id: str, transport: str, queue_size: int) -> None:
        self.subject = subject
        self.business_id = business_id
        self.transport = transport
        # None wakes a reader blocked in get() once the subscriber overflowed.
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=queue_size + 1)
        self._capacity = queue_size
        self._overflowed = False

    @property
    def overflowed(self) -> bool:
        return self._overflowed

    def offer(self, event: Event) -> int:
        """Queues the event; on overflow marks the subscriber closed and returns how
        many events it loses (this one and the backlog), else 0."""
        if self._overflowed:
            return 1
        if self._queue.qsize() < self._capacity:
            self._queue.put_nowait(event)
            return 0
        self._overflowed = True
        lost = 1 + self._queue.qsize()
        while not self._queue.empty():
            self._queue.get_nowait()
        # Wakes a reader blocked in get(): it must learn it was closed.
        self._queue.put_nowait(None)
        return lost

    async def next(self) -> Event:
        if self._overflowed:
            raise SlowConsumerError
        event = await self._queue.get()
        if event is None:
            raise SlowConsumerError
        return event


class Hub:
    def __init__(
        self,
        report: HubReport,
        *,
        max_per_principal: int | None = None,
        queue_size: int | None = None,
        dedupe_window: int = DEDUPE_WINDOW,
    ) -> None:
        self._report = report
        # The module's constants, read when the hub is made (a test may shorten them).
        self._max_per_principal = max_per_principal or MAX_OPEN_PER_PRINCIPAL
        self._queue_size = queue_size or QUEUE_SIZE
        self._dedupe_window = dedupe_window
        self._by_business: dict[str, set[Subscriber]] = {}
        self._per_subject: dict[str, int] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()

    def open_count(self, subject: str) -> int:
        return self._per_subject.get(subject, 0)

    @contextmanager
    def subscribed(self, subject: str, business_id: str, transport: str) -> Iterator[Subscriber]:
        """An open subscription for the life of the block; SubscriptionLimitError when
        the subject already holds its maximum."""
        with self.holding(subject, transport):
            subscriber = Subscriber(subject, business_id, transport, self._queue_size)
            self._by_business.setdefault(business_id, set()).add(subscriber)
            try:
                yield subscriber
            finally:
                subscribers = self._by_business.get(business_id)
                if subscribers is not None:
                    subscribers.discard(subscriber)
                    if not subscribers:
                        del self._by_business[business_id]

    @contextmanager
    def holding(self, subject: str, transport: str) -> Iterator[None]:
        """A place among the subject's open subscriptions, counted and limited, for one
        that is fed otherwise (mutationOutcome follows a key, not events)."""
        if self._per_subject.get(subject, 0) >= self._max_per_principal:
            raise SubscriptionLimitError(self._max_per_principal)
        self._per_subject[subject] = self._per_subject.get(subject, 0) + 1
        self._report.opened(transport)
        try:
            yield
        finally:
            self._report.closed(transport)
            left = self._per_subject[subject] - 1
            if left:
                self._per_subject[subject] = left
            else:
                del self._per_subject[subject]

    def publish(self, event: Event) -> None:
        if event.id in self._seen:
            return
        self._seen[event.id] = None
        if len(self._seen) > self._dedupe_window:
            self._seen.popitem(last=False)
        for subscriber in tuple(self._by_business.get(event.business_id, ())):
            lost = subscriber.offer(event)
            if lost:
                self._report.dropped_some("slow_consumer", lost)
