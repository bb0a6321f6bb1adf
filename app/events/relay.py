"""The event relay: a background task of each gateway process (with AMQP_URL set) that
publishes recorded events to the broker.

Each round claims up to a batch of unpublished rows (SKIP LOCKED: relays in several
processes take disjoint rows), publishes them, and marks them published only once the
broker confirmed every one. Nothing is lost whatever stops in between: a row is
unpublished until its confirm was recorded, a claim lapses after the store's hold, and a
failed batch is retried after a backoff. What can happen is a duplicate (confirmed, then
the process died before marking it): consumers drop an id they have seen.

A broker outage is logged once when it starts and once when it ends, not per round; the
relay then waits between rounds (doubling up to a cap) rather than hammering a broker
that is down. After a full batch it goes again at once, so a backlog drains at the
broker's pace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from app.events.publisher import Publisher
from app.events.store import Backlog, EventStore

logger = logging.getLogger("gateway.events")

BATCH = 100
MAX_IDLE_BACKOFF_SECONDS = 30.0
# The backlog's count and age are read this often when idle (and after every round that
# published or failed, so that the gauges follow what the relay did).
BACKLOG_EVERY_SECONDS = 10.0


class RelayReport:
    """What the relay tells the rest of the app (metrics)."""

    def published(self, count: int) -> None:
        """`count` events were confirmed by the broker."""

    def failed(self, count: int) -> None:
        """`count` events were not confirmed; they will be retried."""

    def backlog(self, backlog: Backlog, now: datetime) -> None:
        """The unpublished rows, read every BACKLOG_EVERY_SECONDS."""


class EventRelay:
    def __init__(
        self,
        store: EventStore,
        publisher: Publisher,
        *,
        report: RelayReport | None = None,
        batch: int = BATCH,
        interval_seconds: float = 0.5,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._report = report or RelayReport()
        self._batch = batch
        self._interval = interval_seconds
        self._clock = clock
        self._outage_since: datetime | None = None
        self._failures_in_a_row = 0
        self._backlog_due = 0.0

    @property
    def broker_down(self) -> bool:
        return self._outage_since is not None

    async def run_once(self) -> int:
        """One batch; returns how many events the broker confirmed (0 on a failure)."""
        claimed = await self._store.claim(self._batch)
        if not claimed:
            return 0
        try:
            await self._publisher.publish([item.event for item in claimed])
        except Exception as exc:  # noqa: BLE001 - any failure leaves the rows to retry; logged once per outage
            await self._store.failed(claimed, f"{type(exc).__name__}: {exc}")
            self._report.failed(len(claimed))
            self._failures_in_a_row += 1
            if self._outage_since is None:
                self._outage_since = self._clock()
                logger.error(
                    "event broker unavailable; events are kept and retried",
                    extra={"error": type(exc).__name__, "detail": str(exc)[:200]},
                )
            return 0
        await self._store.published([item.position for item in claimed])
        self._report.published(len(claimed))
        self._failures_in_a_row = 0
        if self._outage_since is not None:
            logger.warning(
                "event broker available again; publishing resumed",
                extra={"outage_seconds": (self._clock() - self._outage_since).total_seconds()},
            )
            self._outage_since = None
        return len(claimed)

    async def report_backlog(self) -> Backlog:
        backlog = await self._store.backlog()
        self._report.backlog(backlog, self._clock())
        return backlog

    def _pause(self) -> float:
        if self._failures_in_a_row == 0:
            return self._interval
        backoff: float = self._interval * 2 ** min(self._failures_in_a_row, 10)
        return min(MAX_IDLE_BACKOFF_SECONDS, backoff)

    async def run_forever(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                published = 0
                try:
                    published = await self.run_once()
                    # Fresh after any activity; otherwise every BACKLOG_EVERY_SECONDS.
                    if published or self._failures_in_a_row or loop.time() >= self._backlog_due:
                        self._backlog_due = loop.time() + BACKLOG_EVERY_SECONDS
                        await self.report_backlog()
                except Exception:  # noqa: BLE001 - background boundary: a database blip must not stop publishing for good
                    logger.exception("event relay round failed; retrying")
                    self._failures_in_a_row += 1
                if published >= self._batch:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._pause())
        finally:
            await self._publisher.close()
