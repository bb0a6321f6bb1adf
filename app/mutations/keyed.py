"""A mutation run through its idempotency key in one region's store: the claim (a reused,
busy or finished key is answered from the store, nothing sent), then, for a single-step
mutation, its checks, its one downstream write and its stored outcome (the order is in
app/mutations/service.py)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from app.downstream.errors import (
    DownstreamError,
    DownstreamInvalidResponseError,
    DownstreamRejectedError,
)
from app.events import emission
from app.idempotency.keys import KeyScope, downstream_key, fingerprint
from app.idempotency.store import ClaimOutcome, IdempotencyStore, Lease, LeaseLostError
from app.mutations.authority import Authority
from app.mutations.outcomes import UNAVAILABLE_MESSAGE, Outcome, ProblemCode, problem
from app.mutations.placement import read_failed, unavailable
from app.mutations.refusals import key_reused, rejection, taken_over
from app.residency.regions import DATABASE_ERRORS, is_unreachable

logger = logging.getLogger("gateway.mutations")

# Refusals that say "not now": the key is not kept with them, so a retry with the same
# key tries again.
_NOT_NOW = frozenset({ProblemCode.PAYMENT_IN_PROGRESS})

Build = Callable[[], Awaitable[dict[str, Any] | Outcome]]
Send = Callable[[Lease, dict[str, Any]], Awaitable[Outcome]]


class KeyedRun:
    def __init__(self, scope: KeyScope, authority: Authority, store: IdempotencyStore) -> None:
        self._scope = scope
        self._authority = authority
        self.store = store

    async def claim(self, command: Any) -> tuple[Lease, str, dict[str, Any]] | Outcome:
        operation = self._scope.operation
        try:
            claim = await self.store.claim(
                self._scope, command.idempotency_key, fingerprint(command.fingerprint_data())
            )
        except DATABASE_ERRORS as exc:
            if not is_unreachable(exc):
                raise
            # The claim is one statement: unreachable, nothing was written.
            logger.warning("records unreachable at claim", extra={"operation": operation})
            return unavailable()
        if claim.outcome is ClaimOutcome.REUSED:
            return key_reused()
        if claim.outcome is ClaimOutcome.IN_USE:
            return problem(
                ProblemCode.IDEMPOTENCY_KEY_IN_USE,
                "A request with this idempotency key is still running; retry shortly.",
                "input",
                "idempotencyKey",
            )
        if claim.outcome is ClaimOutcome.REPLAY:
            replay = Outcome.from_result(claim.result or {})
            return self._authority.replay_refusal(operation, replay) or replay
        assert claim.lease is not None  # noqa: S101 - NEW and RESUMED carry one
        return claim.lease, claim.recovery_point or "claimed", claim.state or {}

    async def single_step(self, command: Any, build: Build, send: Send, id_field: str) -> Outcome:
        operation = self._scope.operation
        claim = await self.claim(command)
        if isinstance(claim, Outcome):
            return claim
        lease, point, state = claim
        try:
            if point == "claimed":
                try:
                    prepared = await build()
                except DownstreamInvalidResponseError as exc:
                    # A decision on an object that breaks its contract is not taken:
                    # nothing was sent, and a retry with the same key reads again.
                    await self.store.forget(lease)
                    return read_failed(exc)
                if isinstance(prepared, Outcome):
                    return await self.refused(lease, point, prepared)
                state = prepared
                async with self.store.transaction() as connection:
                    await self.store.record_step(connection, lease, "sending", state)
            try:
                outcome = await send(lease, state)
            except DownstreamRejectedError as exc:
                rejected = rejection(exc, id_field)
                if rejected is None:
                    raise
                outcome = rejected
            if outcome.business_id is None:
                outcome.business_id = state.get("business_id")
            if {p.code for p in outcome.problems} & _NOT_NOW:
                await self.store.release(lease)
                return outcome
            async with self.store.transaction() as connection:
                await self.store.complete(connection, lease, outcome.to_result())
                # The events exist exactly when the stored outcome does (docs/events.md),
                # the business's the mutation was authorized for.
                if outcome.business_id is not None:
                    await emission.record_all(
                        connection,
                        emission.of_mutation(
                            operation, outcome.objects, succeeded=not outcome.problems
                        ),
                        business_id=outcome.business_id,
                    )
            return outcome
        except LeaseLostError:
            return taken_over()
        except DownstreamError as exc:
            logger.warning(
                "mutation paused on an unknown outcome",
                extra={"operation": operation, "detail": exc.detail},
            )
            await self.store.release(lease)
            return problem(ProblemCode.DOWNSTREAM_UNAVAILABLE, UNAVAILABLE_MESSAGE)
        except BaseException:  # noqa: BLE001 - re-raised: whatever stops us (even cancellation) must let a retry resume now
            await self.store.release(lease)
            raise

    async def refused(self, lease: Lease, point: str, refusal: Outcome) -> Outcome:
        """Refused before anything was sent: forget the key, nothing happened. A business
        refusal (invalid state, amounts) is a definitive outcome and is stored."""
        codes = {p.code for p in refusal.problems}
        if codes & {ProblemCode.NOT_FOUND, ProblemCode.FORBIDDEN}:
            if point == "claimed":
                await self.store.forget(lease)
            else:
                await self.store.release(lease)
            return refusal
        async with self.store.transaction() as connection:
            await self.store.complete(connection, lease, refusal.to_result())
        return refusal


def key_of(lease: Lease, step: str) -> str:
    return downstream_key(lease.scope_digest, lease.key, step)


def expect(condition: bool, service: str) -> None:
    if not condition:
        raise DownstreamInvalidResponseError(service, "write answer does not match the request")
