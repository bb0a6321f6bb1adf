"""The domain events table (domain_events): recording, within the caller's transaction,
and handing unpublished rows to relays.

The per-subject sequence is `max(sequence) + 1` for the subject, inserted in a SAVEPOINT:
two transactions recording for one subject at once both read the same max, and the
unique (subject, sequence) constraint makes the second wait for the first and then fail;
only its savepoint is rolled back, and it reads the max again (READ COMMITTED sees the
first's commit) and inserts the next number. No counter table, no gap: a rolled-back
transaction takes its numbers with it. SQLite serialises writers (BEGIN IMMEDIATE), so
there the first try always succeeds.

Relays claim due rows with FOR UPDATE SKIP LOCKED and a hold (like app/outbox/store.py):
several gateway processes pass each other's rows, and a crashed relay's rows come back
when the hold runs out. A row is marked published only after the broker confirmed it;
a failure backs the row off exponentially.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.tables import domain_events as events
from app.events.envelope import Event, EventType

# How long a relay may hold claimed rows before another relay may take them: longer
# than a publish with its confirm may take (the publisher's own timeout is shorter).
DEFAULT_HOLD = timedelta(seconds=15)
MAX_BACKOFF = timedelta(minutes=1)
# A recorder loses a round to each rival that commits first; in the gateway two at most
# meet on one subject (a saga's end and a settler), but a burst must not fail a change.
_MAX_TRIES = 100


def _now() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


async def record(
    connection: AsyncConnection,
    type: EventType,  # noqa: A002 - the envelope's attribute name
    business_id: str,
    subject: str,
    data: Mapping[str, Any],
    *,
    occurred_at: datetime,
    now: datetime | None = None,
) -> Event:
    """Writes one event in the caller's transaction (it exists exactly when the change
    that caused it commits) with the subject's next sequence number."""
    recorded_at = now or _now()
    for attempt in range(_MAX_TRIES):
        event_id = new_event_id()
        try:
            async with connection.begin_nested():
                last = (
                    await connection.execute(
                        select(func.max(events.c.sequence)).where(events.c.subject == subject)
                    )
                ).scalar_one()
                sequence = int(last or 0) + 1
                await connection.execute(
                    insert(events).values(
                        id=event_id,
                        type=type.value,
                        business_id=business_id,
                        subject=subject,
                        sequence=sequence,
                        occurred_at=occurred_at,
                        data=dict(data),
                        recorded_at=recorded_at,
                        attempts=0,
                        next_attempt_at=recorded_at,
                    )
                )
        except IntegrityError:
            # Another transaction took this number for the subject meanwhile.
            if attempt + 1 == _MAX_TRIES:
                raise
            # A little jitter so that a crowd of losers does not collide again in step.
            await asyncio.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))  # noqa: S311 - not security
            continue
        return Event(
            id=event_id,
            type=type,
            time=occurred_at,
            business_id=business_id,
            subject=subject,
            sequence=sequence,
            data=dict(data),
        )
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class Claimed:
    """An unpublished row held for one relay."""

    position: int
    attempts: int
    event: Event


@dataclass(frozen=True, slots=True)
class Backlog:
    unpublished: int
    oldest_recorded_at: datetime | None


def backoff(attempts: int, base: timedelta = timedelta(seconds=1)) -> timedelta:
    """1 s, 2 s, 4 s ... 1 min: a broker back from an outage gets the backlog soon."""
    delay: timedelta = base * (2 ** max(0, min(attempts - 1, 16)))
    return min(MAX_BACKOFF, delay)


def to_event(row: Any) -> Event:
    return Event(
        id=row.id,
        type=EventType(row.type),
        time=row.occurred_at,
        business_id=row.business_id,
        subject=row.subject,
        sequence=int(row.sequence),
        data=row.data,
    )


class EventStore:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        hold: timedelta = DEFAULT_HOLD,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._engine = engine
        self._hold = hold
        self._clock = clock

    async def claim(self, limit: int = 100) -> list[Claimed]:
        """Unpublished rows due now, oldest first, held for this relay."""
        now = self._clock()
        async with self._engine.begin() as connection:
            rows = (
                await connection.execute(
                    select(events)
                    .where(events.c.published_at.is_(None), events.c.next_attempt_at <= now)
                    .order_by(events.c.position)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if rows:
                await connection.execute(
                    update(events)
                    .where(events.c.position.in_([row.position for row in rows]))
                    .values(next_attempt_at=now + self._hold, attempts=events.c.attempts + 1)
                )
        return [Claimed(int(row.position), int(row.attempts) + 1, to_event(row)) for row in rows]

    async def published(self, positions: list[int]) -> None:
        """Called only after the broker confirmed these rows' messages."""
        if not positions:
            return
        async with self._engine.begin() as connection:
            await connection.execute(
                update(events)
                .where(events.c.position.in_(positions), events.c.published_at.is_(None))
                .values(published_at=self._clock(), last_error=None)
            )

    async def failed(self, claimed: list[Claimed], error: str) -> None:
        """Not confirmed: each row is tried again after its backoff."""
        if not claimed:
            return
        now = self._clock()
        async with self._engine.begin() as connection:
            for item in claimed:
                await connection.execute(
                    update(events)
                    .where(events.c.position == item.position, events.c.published_at.is_(None))
                    .values(next_attempt_at=now + backoff(item.attempts), last_error=error[:500])
                )

    async def backlog(self) -> Backlog:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(func.count(), func.min(events.c.recorded_at)).where(
                        events.c.published_at.is_(None)
                    )
                )
            ).one()
        oldest = row[1]
        if oldest is not None and oldest.tzinfo is None:
            # An aggregate skips the column's type on SQLite: naive UTC text.
            oldest = oldest.replace(tzinfo=UTC)
        return Backlog(int(row[0]), oldest)
