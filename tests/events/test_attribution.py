"""An event is the business's the change was authorized for, whatever the downstream
object claims; an event no envelope can carry is left out and the change still commits.
On SQLite and PostgreSQL."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tables import domain_events
from app.events import emission
from app.events.envelope import EventType


def refund(business_id: str, refund_id: str = "re_1") -> emission.NewEvent:
    return emission.NewEvent(EventType.REFUND_SUCCEEDED, business_id, refund_id, {"id": refund_id})


async def test_an_event_goes_to_the_authorized_business(
    migrated: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    # given a downstream answer that names another business (or one no routing key may
    # carry), and a subject no envelope may carry
    found = [refund("biz_OTHER"), refund("biz.#"), refund("biz_GB1", "re.bad")]

    # when the change authorized for biz_GB1 records them
    with caplog.at_level(logging.WARNING, logger="gateway.events"):
        async with migrated.begin() as connection:
            await emission.record_all(connection, found, business_id="biz_GB1")

    # then both valid ones are biz_GB1's, the bad subject is left out, and it was said
    async with migrated.connect() as connection:
        rows = (
            await connection.execute(
                select(domain_events.c.business_id, domain_events.c.subject).order_by(
                    domain_events.c.position
                )
            )
        ).all()
    assert [tuple(row) for row in rows] == [("biz_GB1", "re_1"), ("biz_GB1", "re_1")]
    messages = [record.getMessage() for record in caplog.records]
    assert messages.count("event attributed to the business the change was authorized for") == 2
    assert "event left out: its subject cannot travel in an envelope" in messages
