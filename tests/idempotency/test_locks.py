"""The per-invoice payment lock: a saga's holds until it ends; a void's lapses, so that a
void whose process died does not lock the invoice for good."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import migrate
from app.db.engine import create_engine
from app.idempotency import locks
from app.idempotency.store import Lease

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
SAGA = Lease("a" * 64, "pay-key", "owner-1")
VOID = Lease("b" * 64, "void-key", "owner-2")
OTHER_SAGA = Lease("c" * 64, "pay-key-2", "owner-3")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


async def acquire(
    engine: AsyncEngine, lease: Lease, now: datetime, expires_at: datetime | None = None
) -> bool:
    async with engine.begin() as connection:
        return await locks.acquire(connection, "inv_1", lease, now, expires_at=expires_at)


async def test_a_void_lock_keeps_payments_out_until_it_lapses(engine: AsyncEngine) -> None:
    # given a void holding the invoice for five minutes
    assert await acquire(engine, VOID, T0, T0 + timedelta(minutes=5))

    # then a payment saga cannot take it meanwhile, and the void itself can again
    assert not await acquire(engine, SAGA, T0 + timedelta(minutes=4))
    assert await acquire(engine, VOID, T0 + timedelta(minutes=4), T0 + timedelta(minutes=9))

    # and once the void's (renewed) hold lapses, a saga takes the invoice, for good
    assert not await acquire(engine, SAGA, T0 + timedelta(minutes=8))
    assert await acquire(engine, SAGA, T0 + timedelta(minutes=9))
    assert not await acquire(engine, VOID, T0 + timedelta(days=30), T0 + timedelta(days=31))
    assert not await acquire(engine, OTHER_SAGA, T0 + timedelta(days=30))


async def test_a_released_lock_is_free(engine: AsyncEngine) -> None:
    assert await acquire(engine, VOID, T0, T0 + timedelta(minutes=5))
    async with engine.begin() as connection:
        await locks.release(connection, "inv_1", VOID)
    assert await acquire(engine, SAGA, T0 + timedelta(seconds=1))
