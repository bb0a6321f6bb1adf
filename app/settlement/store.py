"""The durable watch list of pending payments (table payment_watch).

A row is written in the same transaction that ends the payInvoice saga with a pending
payment, so a pending payment is never forgotten, whatever crashes. Settlers in several
gateway processes share the list: `claim_due` hands each row to one of them at a time
(FOR UPDATE SKIP LOCKED on PostgreSQL, a hold time everywhere), and a crashed settler's
rows come back when their hold runs out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.engine import one_read
from app.db.tables import payment_watch as watch

# What must be written exactly when a watched payment moves on (its domain events).
Also = Callable[[AsyncConnection], Awaitable[None]] | None

PENDING = "pending"
RECORDING = "recording"
REFUNDING = "refunding"
DONE = "done"
OPEN_STATES = (PENDING, RECORDING, REFUNDING)

# How long a settler may work on a claimed row before another may take it.
DEFAULT_HOLD = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Watched:
    payment_id: str
    invoice_id: str
    business_id: str
    amount: int
    currency: str
    scope_digest: str
    idempotency_key: str
    actor_id: str
    state: str
    outcome: str | None
    refund_amount: int | None
    checks: int
    taken_at: datetime
    settled_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class WatchStats:
    open_count: int
    oldest_taken_at: datetime | None


@dataclass(frozen=True, slots=True)
class Taken:
    """What the saga knows of a pending payment it took, and whose key took it."""

    payment_id: str
    invoice_id: str
    business_id: str
    amount: int
    currency: str
    taken_at: datetime
    scope_digest: str
    idempotency_key: str
    actor_id: str


def _now() -> datetime:
    return datetime.now(UTC)


class WatchStore:
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

    async def watch(
        self, connection: AsyncConnection, taken: Taken, *, first_check_in: timedelta
    ) -> None:
        """Within the caller's transaction. Watching the same payment twice (a saga
        resumed after a crash replays its charge) keeps the first row."""
        dialect: Any = postgresql if connection.dialect.name == "postgresql" else sqlite
        await connection.execute(
            dialect.insert(watch)
            .values(
                payment_id=taken.payment_id,
                invoice_id=taken.invoice_id,
                business_id=taken.business_id,
                amount=taken.amount,
                currency=taken.currency,
                scope_digest=taken.scope_digest,
                idempotency_key=taken.idempotency_key,
                actor_id=taken.actor_id,
                state=PENDING,
                checks=0,
                next_check_at=self._clock() + first_check_in,
                taken_at=taken.taken_at,
            )
            .on_conflict_do_nothing()
        )

    async def claim_due(self, limit: int = 100) -> list[Watched]:
        """Open rows due now, held for this settler."""
        now = self._clock()
        async with self._engine.begin() as connection:
            rows = (
                await connection.execute(
                    select(watch)
                    .where(watch.c.state.in_(OPEN_STATES), watch.c.next_check_at <= now)
                    .order_by(watch.c.next_check_at, watch.c.payment_id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if rows:
                await connection.execute(
                    update(watch)
                    .where(watch.c.payment_id.in_([row.payment_id for row in rows]))
                    .values(next_check_at=now + self._hold, checks=watch.c.checks + 1)
                )
        return [_watched(row._mapping, extra_check=True) for row in rows]

    async def open_for_invoice(self, invoice_id: str) -> list[Watched]:
        return await self._select(watch.c.invoice_id == invoice_id, watch.c.state.in_(OPEN_STATES))

    async def of_business(self, business_id: str) -> list[Watched]:
        return await self._select(watch.c.business_id == business_id)

    async def get(self, payment_id: str) -> Watched | None:
        found = await self._select(watch.c.payment_id == payment_id)
        return found[0] if found else None

    async def of_key(self, scope_digest: str, key: str) -> Watched | None:
        """The payment a payInvoice key left pending, if any (mutationOutcome)."""
        found = await self._select(
            watch.c.scope_digest == scope_digest, watch.c.idempotency_key == key
        )
        return found[0] if found else None

    async def businesses(self) -> list[str]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(watch.c.business_id).distinct().order_by(watch.c.business_id)
            )
            return [row.business_id for row in rows]

    async def settled(self, item: Watched, *, also: Also = None) -> Watched:
        """The payment succeeded: it must now be recorded on its invoice."""
        now = self._clock()
        await self._update(item, also, state=RECORDING, settled_at=now, last_error=None)
        return _replace(item, state=RECORDING, settled_at=now)

    async def refunding(self, item: Watched, amount: int) -> Watched:
        """The invoice refused the settled payment for good: refund `amount`, the same
        body on every retry (the refund's key is derived, its body must not change)."""
        await self._update(item, state=REFUNDING, refund_amount=amount, last_error=None)
        return _replace(item, state=REFUNDING, refund_amount=amount)

    async def finish(self, item: Watched, outcome: str, *, also: Also = None) -> None:
        await self._update(
            item, also, state=DONE, outcome=outcome, finished_at=self._clock(), last_error=None
        )

    async def later(self, item: Watched, delay: timedelta, error: str | None = None) -> None:
        await self._update(item, next_check_at=self._clock() + delay, last_error=error)

    async def stats(self) -> WatchStats:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(func.count(), func.min(watch.c.taken_at)).where(
                        watch.c.state.in_(OPEN_STATES)
                    )
                )
            ).one()
        oldest = row[1]
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return WatchStats(int(row[0]), oldest)

    async def overdue(self, older_than: timedelta, every: timedelta) -> list[Watched]:
        """Open rows taken before `older_than` ago and not alerted on within `every`;
        marked alerted now, so that each is reported once per `every`."""
        now = self._clock()
        async with self._engine.begin() as connection:
            rows = (
                await connection.execute(
                    select(watch)
                    .where(
                        watch.c.state.in_(OPEN_STATES),
                        watch.c.taken_at < now - older_than,
                        (watch.c.alerted_at.is_(None)) | (watch.c.alerted_at < now - every),
                    )
                    .order_by(watch.c.taken_at)
                    .limit(100)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if rows:
                await connection.execute(
                    update(watch)
                    .where(watch.c.payment_id.in_([row.payment_id for row in rows]))
                    .values(alerted_at=now)
                )
        return [_watched(row._mapping) for row in rows]

    async def _select(self, *conditions: Any) -> list[Watched]:
        async with one_read(self._engine) as connection:
            rows = await connection.execute(
                select(watch).where(*conditions).order_by(watch.c.taken_at, watch.c.payment_id)
            )
            return [_watched(row._mapping) for row in rows]

    async def _update(self, item: Watched, also: Also = None, **values: Any) -> None:
        async with self._engine.begin() as connection:
            changed = await connection.execute(
                update(watch)
                .where(watch.c.payment_id == item.payment_id, watch.c.state != DONE)
                .values(**values)
            )
            # Only the settler that moved the row on writes what that move causes.
            if also is not None and changed.rowcount == 1:
                await also(connection)


def _watched(row: Any, *, extra_check: bool = False) -> Watched:
    return Watched(
        payment_id=row["payment_id"],
        invoice_id=row["invoice_id"],
        business_id=row["business_id"],
        amount=int(row["amount"]),
        currency=row["currency"],
        scope_digest=row["scope_digest"],
        idempotency_key=row["idempotency_key"],
        actor_id=row["actor_id"],
        state=row["state"],
        outcome=row["outcome"],
        refund_amount=None if row["refund_amount"] is None else int(row["refund_amount"]),
        checks=int(row["checks"]) + (1 if extra_check else 0),
        taken_at=row["taken_at"],
        settled_at=row["settled_at"],
        finished_at=row["finished_at"],
    )


def _replace(item: Watched, **changes: Any) -> Watched:
    return dataclasses.replace(item, **changes)
