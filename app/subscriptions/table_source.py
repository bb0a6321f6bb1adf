"""The domain_events table as the embedded feed's source (app/subscriptions/
table_feed.py): reads by position only, never writes (the event relay owns
`published_at`, `attempts` and the rest). Both queries use the primary key."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tables import domain_events
from app.events.envelope import Event
from app.events.store import to_event

_COLUMNS = (
    domain_events.c.position,
    domain_events.c.id,
    domain_events.c.type,
    domain_events.c.business_id,
    domain_events.c.subject,
    domain_events.c.sequence,
    domain_events.c.occurred_at,
    domain_events.c.data,
)


class DomainEventsTable:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def last_position(self) -> int:
        async with self._engine.connect() as connection:
            found = await connection.scalar(select(func.max(domain_events.c.position)))
        return int(found or 0)

    async def read(self, after: int, missing: Sequence[int], limit: int) -> list[tuple[int, Event]]:
        newer = (
            select(*_COLUMNS)
            .where(domain_events.c.position > after)
            .order_by(domain_events.c.position)
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            rows = list(await connection.execute(newer))
            if missing:
                late = select(*_COLUMNS).where(domain_events.c.position.in_(list(missing)))
                rows.extend(await connection.execute(late))
        return [(int(row.position), to_event(row)) for row in rows]
