"""One payment saga per invoice at a time, claimed atomically in the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import payment_locks as locks
from app.idempotency.store import Lease


async def acquire(
    connection: AsyncConnection, invoice_id: str, lease: Lease, now: datetime
) -> bool:
    """True when this saga holds the invoice (newly, or already from an earlier attempt);
    False when another saga does."""
    dialect: Any = postgresql if connection.dialect.name == "postgresql" else sqlite
    await connection.execute(
        dialect.insert(locks)
        .values(
            invoice_id=invoice_id,
            scope_digest=lease.scope_digest,
            idempotency_key=lease.key,
            acquired_at=now,
        )
        .on_conflict_do_nothing()
    )
    holder = (
        await connection.execute(
            select(locks.c.scope_digest, locks.c.idempotency_key).where(
                locks.c.invoice_id == invoice_id
            )
        )
    ).one()
    return (holder.scope_digest, holder.idempotency_key) == (lease.scope_digest, lease.key)


async def release(connection: AsyncConnection, invoice_id: str, lease: Lease) -> None:
    await connection.execute(
        delete(locks).where(
            and_(
                locks.c.invoice_id == invoice_id,
                locks.c.scope_digest == lease.scope_digest,
                locks.c.idempotency_key == lease.key,
            )
        )
    )
