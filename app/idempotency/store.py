"""The idempotency store: one row per (scope, client key) in the database.

A key is claimed atomically (INSERT ... ON CONFLICT DO NOTHING, never check-then-insert).
The claimant holds a lease; every step it records is fenced on that lease, so a process
that lost its lease (it stalled and another took over) cannot overwrite newer state. A
lease left by a crashed process runs out and the next request with the key takes over
and resumes from the recorded step. Completed outcomes are kept at least 24 hours.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.tables import idempotency_keys as keys
from app.idempotency.keys import KeyScope

RETENTION = timedelta(hours=24)
# Longer than one request's whole budget, so a live holder never loses its lease.
DEFAULT_LEASE = timedelta(seconds=30)

IN_PROGRESS = "in_progress"
COMPLETED = "completed"


class ClaimOutcome(enum.Enum):
    NEW = "new"  # first request with this key: run it
    RESUMED = "resumed"  # an earlier attempt stopped part-way: continue from its step
    REPLAY = "replay"  # already done: return the stored result
    IN_USE = "in_use"  # another request with this key is running right now
    REUSED = "reused"  # this key was used with a different input


@dataclass(frozen=True, slots=True)
class Lease:
    scope_digest: str
    key: str
    owner: str


@dataclass(frozen=True, slots=True)
class Claim:
    outcome: ClaimOutcome
    lease: Lease | None = None
    recovery_point: str | None = None
    state: dict[str, Any] | None = None
    result: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class KeyRecord:
    completed: bool
    recovery_point: str
    # A live request or relay holds the key's lease now.
    held: bool
    result: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    # The mutation's saved progress (whose business it acts on, once known).
    state: dict[str, Any] | None = None


class LeaseLostError(Exception):
    """Another process took this key over; whatever this one was doing must stop."""


def _now() -> datetime:
    return datetime.now(UTC)


class IdempotencyStore:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        lease: timedelta = DEFAULT_LEASE,
        clock: Callable[[], datetime] = _now,
        on_claim: Callable[[str], None] | None = None,
    ) -> None:
        self._engine = engine
        self._lease = lease
        self._clock = clock
        self._on_claim = on_claim

    def _insert(self, connection: AsyncConnection) -> Any:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        return dialect.insert(keys)

    async def claim(self, scope: KeyScope, key: str, fingerprint: str) -> Claim:
        claim = await self._claim(scope, key, fingerprint)
        if self._on_claim is not None:
            self._on_claim(claim.outcome.value)
        return claim

    async def _claim(self, scope: KeyScope, key: str, fingerprint: str) -> Claim:
        now = self._clock()
        owner = uuid.uuid4().hex
        async with self._engine.begin() as connection:
            inserted = await connection.execute(
                self._insert(connection)
                .values(
                    scope_digest=scope.digest,
                    idempotency_key=key,
                    fingerprint=fingerprint,
                    status=IN_PROGRESS,
                    recovery_point="claimed",
                    lease_owner=owner,
                    lease_expires_at=now + self._lease,
                    state=None,
                    result=None,
                    created_at=now,
                    updated_at=now,
                    expires_at=now + RETENTION,
                )
                .on_conflict_do_nothing()
            )
            if inserted.rowcount == 1:
                return Claim(ClaimOutcome.NEW, Lease(scope.digest, key, owner), "claimed", {})
            row = (
                await connection.execute(
                    select(keys).where(_pk(scope.digest, key)).with_for_update()
                )
            ).one()
            if row.fingerprint != fingerprint:
                return Claim(ClaimOutcome.REUSED)
            if row.status == COMPLETED:
                return Claim(ClaimOutcome.REPLAY, result=row.result)
            if row.lease_expires_at is not None and row.lease_expires_at > now:
                return Claim(ClaimOutcome.IN_USE)
            took_over = await connection.execute(
                update(keys)
                .where(_pk(scope.digest, key), keys.c.lease_owner == row.lease_owner)
                .values(lease_owner=owner, lease_expires_at=now + self._lease, updated_at=now)
            )
            if took_over.rowcount != 1:
                return Claim(ClaimOutcome.IN_USE)
            return Claim(
                ClaimOutcome.RESUMED,
                Lease(scope.digest, key, owner),
                row.recovery_point,
                row.state or {},
            )

    async def take_over(self, scope_digest: str, key: str) -> Claim | None:
        """For the relay: the key's lease if nobody holds it (RESUMED), REPLAY when it is
        done, IN_USE while a live holder works on it; None when the key is gone."""
        now = self._clock()
        owner = uuid.uuid4().hex
        async with self._engine.begin() as connection:
            row = (
                await connection.execute(
                    select(keys).where(_pk(scope_digest, key)).with_for_update()
                )
            ).one_or_none()
            if row is None:
                return None
            if row.status == COMPLETED:
                return Claim(ClaimOutcome.REPLAY, result=row.result)
            if row.lease_expires_at is not None and row.lease_expires_at > now:
                return Claim(ClaimOutcome.IN_USE)
            await connection.execute(
                update(keys)
                .where(_pk(scope_digest, key))
                .values(lease_owner=owner, lease_expires_at=now + self._lease, updated_at=now)
            )
            return Claim(
                ClaimOutcome.RESUMED,
                Lease(scope_digest, key, owner),
                row.recovery_point,
                row.state or {},
            )

    async def lookup(self, scope_digest: str, key: str) -> KeyRecord | None:
        """What is known of a key now, changing nothing (mutationOutcome)."""
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(select(keys).where(_pk(scope_digest, key)))
            ).one_or_none()
        if row is None or row.expires_at <= self._clock():
            return None
        return KeyRecord(
            completed=row.status == COMPLETED,
            recovery_point=row.recovery_point,
            held=row.lease_expires_at is not None and row.lease_expires_at > self._clock(),
            result=row.result,
            created_at=row.created_at,
            updated_at=row.updated_at,
            state=row.state,
        )

    async def record_step(
        self,
        connection: AsyncConnection,
        lease: Lease,
        recovery_point: str,
        state: dict[str, Any],
    ) -> None:
        """Within the caller's transaction (so an outbox row or a lock can commit with
        it); renews the lease."""
        now = self._clock()
        changed = await connection.execute(
            update(keys)
            .where(_owned(lease))
            .values(
                recovery_point=recovery_point,
                state=state,
                lease_expires_at=now + self._lease,
                updated_at=now,
            )
        )
        if changed.rowcount != 1:
            raise LeaseLostError(lease.key)

    async def complete(
        self, connection: AsyncConnection, lease: Lease, result: dict[str, Any]
    ) -> None:
        now = self._clock()
        changed = await connection.execute(
            update(keys)
            .where(_owned(lease))
            .values(
                status=COMPLETED,
                recovery_point="done",
                result=result,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
                expires_at=now + RETENTION,
            )
        )
        if changed.rowcount != 1:
            raise LeaseLostError(lease.key)

    async def release(self, lease: Lease) -> None:
        """The outcome is unknown (timeout, 5xx): keep the recorded step and let the next
        request with this key resume at once."""
        async with self._engine.begin() as connection:
            await connection.execute(
                update(keys)
                .where(_owned(lease))
                .values(lease_expires_at=self._clock(), updated_at=self._clock())
            )

    async def forget(self, lease: Lease) -> None:
        """Nothing was done (e.g. the invoice was busy): the key may be used afresh."""
        async with self._engine.begin() as connection:
            await connection.execute(delete(keys).where(_owned(lease)))

    async def purge(self) -> int:
        """Completed keys past their retention. Unfinished ones stay until resolved:
        they may stand for money that moved."""
        async with self._engine.begin() as connection:
            removed = await connection.execute(
                delete(keys).where(keys.c.status == COMPLETED, keys.c.expires_at < self._clock())
            )
        return int(removed.rowcount)

    def transaction(self) -> Any:
        return self._engine.begin()


def _pk(scope_digest: str, key: str) -> Any:
    return and_(keys.c.scope_digest == scope_digest, keys.c.idempotency_key == key)


def _owned(lease: Lease) -> Any:
    return and_(_pk(lease.scope_digest, lease.key), keys.c.lease_owner == lease.owner)
