"""The domain events table: recording in the caller's transaction, per-subject sequences
under concurrency, claims for relays, marks only after a confirm, backoff, the backlog.
Every test runs on SQLite and on real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tables import domain_events
from app.events import store
from app.events.envelope import EventType
from app.events.store import EventStore

NOW = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)


async def _record(engine: AsyncEngine, subject: str, business: str = "biz_GB1") -> int:
    async with engine.begin() as connection:
        event = await store.record(
            connection,
            EventType.INVOICE_CREATED,
            business,
            subject,
            {"id": subject},
            occurred_at=NOW,
        )
    return event.sequence


async def _rows(engine: AsyncEngine) -> list[tuple[str, int, datetime | None]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(
                domain_events.c.subject, domain_events.c.sequence, domain_events.c.published_at
            ).order_by(domain_events.c.position)
        )
        return [(row.subject, row.sequence, row.published_at) for row in rows]


async def test_each_subject_counts_its_own_sequence_from_one(migrated: AsyncEngine) -> None:
    # When events are recorded for two subjects, interleaved
    sequences = [
        await _record(migrated, subject) for subject in ("inv_a", "inv_b", "inv_a", "inv_a")
    ]

    # Then each subject's sequence runs 1, 2, 3 without gaps
    assert sequences == [1, 1, 2, 3]


async def test_the_recorded_event_is_the_envelope_read_back(migrated: AsyncEngine) -> None:
    # Given an event recorded
    async with migrated.begin() as connection:
        recorded = await store.record(
            connection,
            EventType.PAYMENT_PENDING,
            "biz_GB1",
            "pay_1",
            {"id": "pay_1", "amount": {"amount": "1250", "currency": "GBP"}},
            occurred_at=NOW,
        )

    # When a relay claims it
    (claimed,) = await EventStore(migrated).claim()

    # Then it is the same event, id and time included
    assert claimed.event == recorded
    assert recorded.id.startswith("evt_")
    assert len(recorded.id) == 36
    assert claimed.attempts == 1


async def test_an_event_of_a_rolled_back_transaction_does_not_exist(migrated: AsyncEngine) -> None:
    # Given an event recorded in a transaction that then fails
    async def failing_change() -> None:
        async with migrated.begin() as connection:
            await store.record(
                connection, EventType.INVOICE_CREATED, "biz_GB1", "inv_a", {}, occurred_at=NOW
            )
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        await failing_change()

    # Then nothing was recorded, and the subject's next event is still number 1
    assert await _rows(migrated) == []
    assert await _record(migrated, "inv_a") == 1


async def test_two_transactions_on_one_subject_take_consecutive_numbers(
    migrated: AsyncEngine,
) -> None:
    # Given a transaction that recorded an event for inv_a and has not committed yet
    first_recorded = asyncio.Event()
    may_commit = asyncio.Event()

    async def first() -> int:
        async with migrated.begin() as connection:
            event = await store.record(
                connection, EventType.INVOICE_CREATED, "biz_GB1", "inv_a", {}, occurred_at=NOW
            )
            first_recorded.set()
            await may_commit.wait()
        return event.sequence

    async def second() -> int:
        await first_recorded.wait()
        # SQLite: this waits for the first's write lock; PostgreSQL: on the unique index.
        return await _record(migrated, "inv_a")

    # When a second transaction records for the same subject meanwhile
    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await first_recorded.wait()
    await asyncio.sleep(0.3)
    may_commit.set()
    numbers = await asyncio.gather(*tasks)

    # Then both committed, with numbers 1 and 2
    assert numbers == [1, 2]
    assert [row[:2] for row in await _rows(migrated)] == [("inv_a", 1), ("inv_a", 2)]


async def test_many_concurrent_recorders_leave_no_gap_and_no_duplicate(
    migrated: AsyncEngine,
) -> None:
    # When 8 writers record 5 events each for one subject, all at once
    async def writer() -> list[int]:
        return [await _record(migrated, "pay_hot") for _ in range(5)]

    results = await asyncio.gather(*(writer() for _ in range(8)))

    # Then the subject's sequence is exactly 1..40
    numbers = sorted(n for result in results for n in result)
    assert numbers == list(range(1, 41))


async def test_claimed_rows_are_held_from_other_relays_until_the_hold_lapses(
    migrated: AsyncEngine,
) -> None:
    # Given three events and two relays
    for subject in ("inv_a", "inv_b", "inv_c"):
        await _record(migrated, subject)
    clock = [datetime.now(UTC)]
    relay_one = EventStore(migrated, hold=timedelta(seconds=15), clock=lambda: clock[0])
    relay_two = EventStore(migrated, hold=timedelta(seconds=15), clock=lambda: clock[0])

    # When one claims two rows, the other claims what is left
    first = await relay_one.claim(2)
    second = await relay_two.claim(10)
    assert [c.event.subject for c in first] == ["inv_a", "inv_b"]
    assert [c.event.subject for c in second] == ["inv_c"]
    assert await relay_two.claim(10) == []

    # Then a crashed relay's rows come back once its hold lapses, counted as an attempt
    clock[0] += timedelta(seconds=16)
    again = await relay_two.claim(10)
    assert [(c.event.subject, c.attempts) for c in again] == [
        ("inv_a", 2),
        ("inv_b", 2),
        ("inv_c", 2),
    ]


async def test_concurrent_claims_never_hand_out_one_row_twice(migrated: AsyncEngine) -> None:
    # Given 60 unpublished events
    for n in range(60):
        await _record(migrated, f"inv_{n}")
    relays = [EventStore(migrated) for _ in range(4)]

    # When four relays claim batches of 10 at once, until nothing is left
    async def drain(relay: EventStore) -> list[int]:
        taken: list[int] = []
        while batch := await relay.claim(10):
            taken += [c.position for c in batch]
        return taken

    taken = await asyncio.gather(*(drain(relay) for relay in relays))

    # Then every row went to exactly one relay
    positions = [p for batch in taken for p in batch]
    assert len(positions) == 60
    assert len(set(positions)) == 60


async def test_published_marks_only_the_confirmed_rows(migrated: AsyncEngine) -> None:
    # Given two claimed events
    await _record(migrated, "inv_a")
    await _record(migrated, "inv_b")
    events = EventStore(migrated)
    first, _ = await events.claim()

    # When only the first is confirmed
    await events.published([first.position])

    # Then only it is marked; the other stays unpublished
    rows = await _rows(migrated)
    assert rows[0][2] is not None
    assert rows[1][2] is None
    assert (await events.backlog()).unpublished == 1


async def test_a_failed_publication_backs_off_exponentially(migrated: AsyncEngine) -> None:
    # Given an event whose publication fails
    await _record(migrated, "inv_a")
    clock = [datetime.now(UTC)]
    events = EventStore(migrated, clock=lambda: clock[0])
    claimed = await events.claim()
    await events.failed(claimed, "ConnectionError: broker down")

    # Then it is not due again before 1 s, then due; a second failure waits 2 s
    assert await events.claim() == []
    clock[0] += timedelta(seconds=1.01)
    claimed = await events.claim()
    assert [c.attempts for c in claimed] == [2]
    await events.failed(claimed, "ConnectionError: broker down")
    clock[0] += timedelta(seconds=1.5)
    assert await events.claim() == []
    clock[0] += timedelta(seconds=0.6)
    assert [c.attempts for c in await events.claim()] == [3]


def test_backoff_doubles_and_is_capped() -> None:
    assert [store.backoff(n).total_seconds() for n in (1, 2, 3, 7, 30)] == [1, 2, 4, 60, 60]


async def test_the_backlog_counts_unpublished_rows_and_their_oldest(
    migrated: AsyncEngine,
) -> None:
    # Given an empty table, then two events, one of them published
    events = EventStore(migrated)
    assert await events.backlog() == store.Backlog(0, None)
    before = datetime.now(UTC)
    await _record(migrated, "inv_a")
    await _record(migrated, "inv_b")
    first, _ = await events.claim()
    await events.published([first.position])

    # Then the backlog is one row, recorded after `before`
    backlog = await events.backlog()
    assert backlog.unpublished == 1
    assert backlog.oldest_recorded_at is not None
    assert before <= backlog.oldest_recorded_at <= datetime.now(UTC)
