"""A watched payment's move writes its events only when this settler made the move: a
second settler finishing the same row (its claim had lapsed) writes nothing, so a
settlement's event is never doubled. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tables import domain_events
from app.events import emission
from app.settlement.store import Taken, WatchStore


async def test_only_the_settler_that_ends_a_payment_records_its_event(
    migrated: AsyncEngine,
) -> None:
    # Given a watched pending payment, claimed by two settlers in turn (the first one's
    # hold lapsed while it was slow)
    watch = WatchStore(migrated)
    async with migrated.begin() as connection:
        await watch.watch(
            connection,
            Taken(
                payment_id="pay_1",
                invoice_id="inv_1",
                business_id="biz_GB1",
                amount=1250,
                currency="GBP",
                taken_at=datetime.now(UTC),
                scope_digest="s" * 64,
                idempotency_key="k",
                actor_id="user_1",
            ),
            first_check_in=timedelta(0),
        )
    (item,) = await watch.claim_due()
    failed = emission.payment_event(
        "failed",
        payment_id="pay_1",
        invoice_id="inv_1",
        business_id="biz_GB1",
        amount=1250,
        currency="GBP",
    )

    # When both find it failed and end it
    await watch.finish(item, "failed", also=emission.recorder([failed]))
    await watch.finish(item, "failed", also=emission.recorder([failed]))

    # Then payment.failed was recorded once
    async with migrated.connect() as connection:
        rows = (await connection.execute(select(domain_events.c.type))).all()
    assert [row.type for row in rows] == ["payment.failed"]
