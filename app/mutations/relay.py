"""The relay: a background task of the app that finishes what requests left unfinished.

It takes due outbox rows (several gateway processes can run relays: rows are held with
FOR UPDATE SKIP LOCKED), takes over the saga's idempotency lease (never while a live
request holds it), and resumes the saga from its recovery point, with the same derived
downstream keys. A row that cannot finish yet is retried with exponential backoff, also
after a restart: the row is in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta

from app.idempotency.store import ClaimOutcome, IdempotencyStore
from app.mutations.outcomes import ProblemCode
from app.mutations.pay_invoice import OUTBOX_KIND, PayInvoiceSaga
from app.outbox.store import OutboxItem, OutboxStore

logger = logging.getLogger("gateway.relay")

SagaFactory = Callable[[str], PayInvoiceSaga]
PURGE_EVERY = timedelta(minutes=10)


class Relay:
    def __init__(
        self,
        store: IdempotencyStore,
        outbox: OutboxStore,
        saga_for_actor: SagaFactory,
        *,
        interval_seconds: float = 1.0,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._saga_for_actor = saga_for_actor
        self._interval = interval_seconds

    async def run_once(self) -> int:
        """Handles the rows due now; returns how many it finished."""
        finished = 0
        for item in await self._outbox.claim_due():
            try:
                finished += await self._handle(item)
            except Exception as exc:  # noqa: BLE001 - background boundary: one bad row must not stop the rest; logged, retried
                logger.exception("relay failed on an outbox row", extra={"outbox_id": item.id})
                await self._outbox.retry_later(item, f"{type(exc).__name__}")
        return finished

    async def _handle(self, item: OutboxItem) -> int:
        if item.kind != OUTBOX_KIND:
            logger.error("unknown outbox row kind", extra={"kind": item.kind, "outbox_id": item.id})
            await self._outbox.retry_later(item, "unknown kind")
            return 0
        claim = await self._store.take_over(item.payload["scope_digest"], item.payload["key"])
        if claim is None or claim.outcome is ClaimOutcome.REPLAY:
            # Finished by a request (or the key is gone): nothing left to do.
            async with self._store.transaction() as connection:
                await self._outbox.finish(connection, item.id)
            return 1
        if claim.outcome is ClaimOutcome.IN_USE or claim.lease is None:
            await self._outbox.retry_later(item, "a live request holds the saga")
            return 0
        saga = self._saga_for_actor(str(item.payload["actor_id"]))
        outcome = await saga.resume(
            claim.lease, claim.recovery_point or "locked", claim.state or {}
        )
        if any(p.code == ProblemCode.DOWNSTREAM_UNAVAILABLE for p in outcome.problems):
            await self._outbox.retry_later(item, "downstream unavailable")
            return 0
        logger.info("relay finished a saga", extra={"outbox_id": item.id})
        return 1

    async def run_forever(self, stop: asyncio.Event) -> None:
        next_purge = asyncio.get_running_loop().time()
        while not stop.is_set():
            try:
                await self.run_once()
                if asyncio.get_running_loop().time() >= next_purge:
                    await self._store.purge()
                    await self._outbox.purge_completed()
                    next_purge += PURGE_EVERY.total_seconds()
            except Exception:  # noqa: BLE001 - background boundary: a database blip must not stop the relay for good
                logger.exception("relay round failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
