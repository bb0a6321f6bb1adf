"""The embedded feed on the real domain_events table: SQLite and PostgreSQL, and on
PostgreSQL a row committed after a later position (the case the gap look back is for)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import migrate
from app.db.engine import create_engine
from app.db.tables import domain_events
from app.events.envelope import Event
from app.subscriptions.table_feed import TablePoller
from app.subscriptions.table_source import DomainEventsTable
from tests.subscriptions.conftest import event


class Sink:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, event: Event) -> None:
        self.events.append(event)


def row(one: Event) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": one.id,
        "type": one.type.value,
        "business_id": one.business_id,
        "subject": one.subject,
        "sequence": one.sequence,
        "occurred_at": one.time,
        "data": dict(one.data),
        "recorded_at": now,
        "next_attempt_at": now,
    }


async def record(connection: AsyncConnection, one: Event) -> None:
    await connection.execute(insert(domain_events).values(row(one)))


async def test_recorded_events_are_handed_on_in_position_order(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        before = event("invoice.created", "inv_GB0001")
        async with engine.begin() as connection:
            await record(connection, before)
        sink = Sink()
        poller = TablePoller(DomainEventsTable(engine), sink)
        await poller.poll_once()  # the end of the table: `before` is history
        later = [event("invoice.paid", "inv_GB0003", sequence=n) for n in (1, 2)]
        async with engine.begin() as connection:
            for one in later:
                await record(connection, one)
        await poller.poll_once()
        assert sink.events == later
    finally:
        await engine.dispose()


async def test_a_row_committed_after_a_later_one_is_handed_on(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        await migrate.upgrade(engine)
        sink = Sink()
        poller = TablePoller(DomainEventsTable(engine), sink)
        await poller.poll_once()
        slow, quick = event("payment.pending", "pay_GB0001"), event("invoice.paid", "inv_GB0003")
        async with engine.connect() as first, engine.connect() as second:
            # The slow transaction takes the lower position and stays open
            await first.begin()
            await record(first, slow)
            await second.begin()
            await record(second, quick)
            await second.commit()
            await poller.poll_once()
            assert sink.events == [quick]
            await first.commit()
        await poller.poll_once()
        assert sink.events == [quick, slow]
        assert poller.gaps == frozenset()
    finally:
        await engine.dispose()
