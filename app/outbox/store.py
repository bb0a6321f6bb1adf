"""The transactional outbox: work that must happen after a commit, written in the same
transaction as the state that needs it, and handed out to relays so that several gateway
processes never work on the same row at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.tables import outbox

# How long a relay may work on a row before another relay may take it.
DEFAULT_HOLD = timedelta(seconds=60)
MAX_BACKOFF = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


def _now() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int, base: timedelta = timedelta(seconds=2)) -> timedelta:
    """Exponential, capped: 2 s, 4 s, 8 s ... 5 min."""
    delay: timedelta = base * (2 ** max(0, min(attempts - 1, 16)))
    return min(MAX_BACKOFF, delay)


class OutboxStore:
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

    async def enqueue(
        self,
        connection: AsyncConnection,
        kind: str,
        payload: dict[str, Any],
        *,
        delay: timedelta = timedelta(0),
    ) -> int:
        """Within the caller's transaction: the row exists exactly when that state does."""
        now = self._clock()
        created = await connection.execute(
            insert(outbox)
            .values(
                kind=kind,
                payload=payload,
                attempts=0,
                next_attempt_at=now + delay,
                created_at=now,
            )
            .returning(outbox.c.id)
        )
        return int(created.scalar_one())

    async def claim_due(self, limit: int = 10) -> list[OutboxItem]:
        """Rows due now, held for this relay. SKIP LOCKED on PostgreSQL lets concurrent
        relays pass each other's rows; SQLite serialises writers anyway."""
        now = self._clock()
        async with self._engine.begin() as connection:
            rows = (
                await connection.execute(
                    select(outbox.c.id, outbox.c.kind, outbox.c.payload, outbox.c.attempts)
                    .where(outbox.c.completed_at.is_(None), outbox.c.next_attempt_at <= now)
                    .order_by(outbox.c.next_attempt_at, outbox.c.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if rows:
                await connection.execute(
                    update(outbox)
                    .where(outbox.c.id.in_([row.id for row in rows]))
                    .values(next_attempt_at=now + self._hold, attempts=outbox.c.attempts + 1)
                )
        return [OutboxItem(row.id, row.kind, row.payload, row.attempts + 1) for row in rows]

    async def finish(self, connection: AsyncConnection, item_id: int) -> None:
        await connection.execute(
            update(outbox)
            .where(outbox.c.id == item_id, outbox.c.completed_at.is_(None))
            .values(completed_at=self._clock(), last_error=None)
        )

    async def retry_later(self, item: OutboxItem, error: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(outbox)
                .where(outbox.c.id == item.id, outbox.c.completed_at.is_(None))
                .values(
                    next_attempt_at=self._clock() + backoff(item.attempts),
                    last_error=error[:500],
                )
            )

    async def purge_completed(self, older_than: timedelta = timedelta(days=7)) -> int:
        from sqlalchemy import delete

        async with self._engine.begin() as connection:
            removed = await connection.execute(
                delete(outbox).where(outbox.c.completed_at < self._clock() - older_than)
            )
        return int(removed.rowcount)

    async def pending_count(self) -> int:
        from sqlalchemy import func

        async with self._engine.connect() as connection:
            return int(
                (
                    await connection.execute(
                        select(func.count())
                        .select_from(outbox)
                        .where(outbox.c.completed_at.is_(None))
                    )
                ).scalar_one()
            )
