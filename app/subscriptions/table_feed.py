"""The embedded feed (no AMQP_URL): one background task per process polls the
domain_events table and hands new events to the hub.

Why gap tracking. `position` is the table's autoincrement key. On PostgreSQL a sequence
value is taken at insert, not at commit: a transaction that took position 41 may commit
after the one that took 42. A poller that only asked for `position > 42` next would miss
41 for good. So the poller remembers the positions below its high-water mark it has not
seen (gaps) and asks for them again, each for `GAP_SECONDS`; a gap that stays empty that
long was a rolled-back insert (or a sequence value never used) and is forgotten. That is
the "lookback": exactly the missing positions, for a bounded time, not a re-read of the
last N rows on every poll. The hub drops an id it has already offered (dedup by id), so a
re-read can never deliver an event twice.

It starts at the current end of the table: subscriptions are live updates, not a replay
of history (a client reads the current state by query, then subscribes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from app.events.envelope import Event

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
GAP_SECONDS = 10.0
BATCH = 500
# Gaps remembered at most: a burst of rollbacks cannot grow the query without bound.
MAX_GAPS = 1000


class EventSource(Protocol):
    async def last_position(self) -> int:
        """The highest position recorded so far (0 for an empty table)."""
        ...

    async def read(self, after: int, missing: Sequence[int], limit: int) -> list[tuple[int, Event]]:
        """Rows with position > `after` (the first `limit` of them, in position order),
        plus the rows at the `missing` positions that exist now."""
        ...


class Sink(Protocol):
    def publish(self, event: Event) -> None: ...


class TablePoller:
    def __init__(
        self,
        source: EventSource,
        sink: Sink,
        *,
        interval_seconds: float = POLL_SECONDS,
        gap_seconds: float = GAP_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._sink = sink
        self._interval = interval_seconds
        self._gap_seconds = gap_seconds
        self._clock = clock
        self._high: int | None = None
        # position -> when it was first seen missing
        self._gaps: dict[int, float] = {}

    @property
    def gaps(self) -> frozenset[int]:
        return frozenset(self._gaps)

    async def start(self) -> None:
        """Takes the current end of the table as where to start. Done before the app
        serves (app/wiring/live.py), so that an event caused by its first requests is
        after it; else by the first poll."""
        self._high = await self._source.last_position()

    async def poll_once(self) -> int:
        """One round: returns how many events it handed on."""
        if self._high is None:
            await self.start()
            return 0
        now = self._clock()
        self._gaps = {p: t for p, t in self._gaps.items() if now - t < self._gap_seconds}
        rows = await self._source.read(self._high, sorted(self._gaps), BATCH)
        for position, event in sorted(rows, key=lambda row: row[0]):
            self._gaps.pop(position, None)
            if position > self._high:
                for missing in range(self._high + 1, position):
                    self._gaps.setdefault(missing, now)
                self._high = position
            self._sink.publish(event)
        while len(self._gaps) > MAX_GAPS:
            del self._gaps[min(self._gaps)]
        return len(rows)

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                handed = await self.poll_once()
            except Exception:  # noqa: BLE001 - the feed task's boundary: it must outlive a failed round
                # A database hiccup: the next round asks again from the same place.
                logger.exception("reading domain events failed")
                handed = 0
            if handed >= BATCH:
                continue  # more are waiting: no pause
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
