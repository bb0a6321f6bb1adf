"""The embedded feed's polling, against a fake table where rows can commit out of
position order (as on PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from app.events.envelope import Event
from app.subscriptions.table_feed import TablePoller
from tests.subscriptions.conftest import event


class FakeTable:
    """Committed rows by position; `reads` records each query's arguments."""

    def __init__(self) -> None:
        self.rows: dict[int, Event] = {}
        self.reads: list[tuple[int, list[int]]] = []
        self.fail_next = False

    def commit(self, position: int, kind: str = "invoice.paid") -> Event:
        self.rows[position] = event(kind, f"inv_{position}")
        return self.rows[position]

    async def last_position(self) -> int:
        return max(self.rows, default=0)

    async def read(self, after: int, missing: Sequence[int], limit: int) -> list[tuple[int, Event]]:
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("database went away")
        self.reads.append((after, list(missing)))
        newer = sorted(p for p in self.rows if p > after)[:limit]
        found = [p for p in missing if p in self.rows]
        return [(p, self.rows[p]) for p in sorted({*newer, *found})]


class Sink:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, event: Event) -> None:
        self.events.append(event)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_it_starts_at_the_end_of_the_table_and_hands_on_what_follows() -> None:
    table, sink = FakeTable(), Sink()
    table.commit(1)
    poller = TablePoller(table, sink)
    await poller.poll_once()  # finds the end: history is not replayed
    second, third = table.commit(2), table.commit(3)
    assert await poller.poll_once() == 2
    assert sink.events == [second, third]
    assert await poller.poll_once() == 0
    assert table.reads[-1] == (3, [])


async def test_a_row_committed_after_a_later_position_is_not_missed() -> None:
    # Given positions 2 and 3 taken, and 3 committed first
    table, sink = FakeTable(), Sink()
    poller = TablePoller(table, sink, clock=Clock())
    await poller.poll_once()
    later = table.commit(2 + 1)
    await poller.poll_once()
    assert (sink.events, poller.gaps) == ([later], frozenset({1, 2}))
    # When 2 commits afterwards
    late = table.commit(2)
    await poller.poll_once()
    # Then the next poll asks for the gap again and hands it on
    assert table.reads[-1] == (3, [1, 2])
    assert (sink.events, poller.gaps) == ([later, late], frozenset({1}))


async def test_a_gap_that_stays_empty_is_forgotten() -> None:
    table, sink, clock = FakeTable(), Sink(), Clock()
    poller = TablePoller(table, sink, gap_seconds=10, clock=clock)
    await poller.poll_once()
    table.commit(2)  # 1 was rolled back: never committed
    await poller.poll_once()
    clock.now += 9
    await poller.poll_once()
    assert table.reads[-1] == (2, [1])
    clock.now += 2
    await poller.poll_once()
    assert (table.reads[-1], poller.gaps) == ((2, []), frozenset())


async def test_the_loop_survives_a_failed_read_and_stops_when_told() -> None:
    table, sink = FakeTable(), Sink()
    poller = TablePoller(table, sink, interval_seconds=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run_forever(stop))
    await asyncio.sleep(0.05)
    table.fail_next = True
    committed = table.commit(1)
    for _ in range(100):
        if sink.events:
            break
        await asyncio.sleep(0.01)
    stop.set()
    async with asyncio.timeout(1):
        await task
    assert sink.events == [committed]
