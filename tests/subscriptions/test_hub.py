"""The in-process fan-out: by business, deduplicated, bounded, limited per principal."""

from __future__ import annotations

import asyncio

import pytest

from app.subscriptions.hub import Hub, SlowConsumerError, SubscriptionLimitError
from tests.subscriptions.conftest import event


class Tally:
    def __init__(self) -> None:
        self.open: dict[str, int] = {}
        self.dropped: dict[str, int] = {}

    def opened(self, transport: str) -> None:
        self.open[transport] = self.open.get(transport, 0) + 1

    def closed(self, transport: str) -> None:
        self.open[transport] -= 1

    def dropped_some(self, reason: str, count: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + count


async def test_an_event_reaches_the_subscribers_of_its_business_only() -> None:
    hub = Hub(Tally())
    with (
        hub.subscribed("ann", "biz_A", "sse") as ann,
        hub.subscribed("bob", "biz_B", "sse") as bob,
    ):
        hub.publish(first := event("invoice.paid", "inv_1", business="biz_A"))
        assert await ann.next() == first
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await bob.next()


async def test_an_event_id_is_offered_once() -> None:
    hub = Hub(Tally())
    with hub.subscribed("ann", "biz_A", "sse") as ann:
        once = event("invoice.paid", "inv_1", business="biz_A")
        later = event("invoice.voided", "inv_1", business="biz_A", sequence=2)
        hub.publish(once)
        hub.publish(once)  # a broker's redelivery, a poller's look back
        hub.publish(later)
        assert [await ann.next(), await ann.next()] == [once, later]


def test_a_principal_may_hold_only_so_many_open_subscriptions() -> None:
    tally = Tally()
    hub = Hub(tally, max_per_principal=2)
    with hub.subscribed("ann", "biz_A", "websocket"), hub.subscribed("ann", "biz_B", "sse"):
        with pytest.raises(SubscriptionLimitError), hub.subscribed("ann", "biz_A", "sse"):
            pass
        # Another caller is not affected
        with hub.subscribed("bob", "biz_A", "sse"):
            assert tally.open == {"websocket": 1, "sse": 2}
    assert (hub.open_count("ann"), tally.open) == (0, {"websocket": 0, "sse": 0})
    # Closed ones free their places
    with hub.subscribed("ann", "biz_A", "sse"), hub.subscribed("ann", "biz_A", "sse"):
        assert hub.open_count("ann") == 2


async def test_a_subscriber_that_falls_behind_is_closed_and_its_backlog_counted() -> None:
    tally = Tally()
    hub = Hub(tally, queue_size=2)
    with (
        hub.subscribed("slow", "biz_A", "sse") as slow,
        hub.subscribed("quick", "biz_A", "sse") as quick,
    ):
        events = [event("invoice.paid", f"inv_{n}", business="biz_A") for n in range(3)]
        hub.publish(events[0])
        assert await quick.next() == events[0]
        hub.publish(events[1])
        assert await quick.next() == events[1]
        hub.publish(events[2])  # slow now holds 3 > 2: closed, all 3 lost
        assert await quick.next() == events[2]
        with pytest.raises(SlowConsumerError):
            await slow.next()
        hub.publish(event("invoice.paid", "inv_9", business="biz_A"))  # lost as well
    assert tally.dropped == {"slow_consumer": 4}


async def test_a_reader_waiting_when_its_subscriber_overflows_is_woken() -> None:
    hub = Hub(Tally(), queue_size=1)
    with hub.subscribed("ann", "biz_A", "sse") as ann:
        reader = asyncio.create_task(ann.next())
        await asyncio.sleep(0)  # blocked on the empty queue
        # The first event wakes it; before it runs, the second overflows the queue
        hub.publish(event("invoice.paid", "inv_1", business="biz_A"))
        hub.publish(event("invoice.paid", "inv_2", business="biz_A"))
        with pytest.raises(SlowConsumerError):
            async with asyncio.timeout(1):
                await reader
