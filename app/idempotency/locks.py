"""One payment saga (or void) per invoice at a time, claimed atomically in the database.

A payment saga's lock has no expiry: it is released when the saga ends, however long
that takes (the outbox resumes it). A void's lock expires: a void is one request, and if
its process dies the invoice must not stay locked; until then it keeps a payment from
starting while the void is on its way."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.tables import payment_locks as locks
from app.idempotency.store import Lease


async def acquire(
    connection: AsyncConnection,
    invoice_id: str,
    lease: Lease,
    now: datetime,
    *,
    expires_at: datetime | None = None,
) -> bool:
    """True when this lease holds the invoice (newly, or already from an earlier attempt);
    False when another does. A lapsed lock (one with an expiry in the past) is taken over."""
    dialect: Any = postgresql if connection.dialect.name == "postgresql" else sqlite
    holder_values = {
        "scope_digest": lease.scope_digest,
        "idempotency_key": lease.key,
        "acquired_at": now,
        "expires_at": expires_at,
    }
    await connection.execute(
        dialect.insert(locks)
        .values(invoice_id=invoice_id, **holder_values)
        .on_conflict_do_nothing()
    )
    await connection.execute(
        update(locks)
        .where(
            locks.c.invoice_id == invoice_id,
            locks.c.expires_at.is_not(None),
            locks.c.expires_at <= now,
        )
        .values(**holder_values)
    )
    if expires_at is not None:
        # A retry of the same void holds it for as long as a new one would.
        await connection.execute(
            update(locks)
            .where(
                locks.c.invoice_id == invoice_id,
                locks.c.scope_digest == lease.scope_digest,
                locks.c.idempotency_key == lease.key,
            )
            .values(expires_at=expires_at)
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
