"""`mutationOutcome`, asked once (a query) or followed to its end (a subscription)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from app.mutations.input_rules import KEY_SHAPE
from app.mutations.progress import Progress, Settlement, Status
from app.schema.resolvers.context import Context
from app.schema.types.field_errors import BadUserInputError
from app.schema.types.outcome import OPERATION_OF, MutationName, MutationOutcome, outcome_type
from app.schema.types.payloads_of import PAYLOAD_OF

# How often a followed mutation is looked at: one indexed read of the caller's own key.
FOLLOW_EVERY_SECONDS = 1.0
_FINAL = frozenset({Status.COMPLETED, Status.COMPENSATED})


async def current_outcome(
    context: Context, mutation: MutationName, key: str
) -> tuple[MutationOutcome | None, Progress | None]:
    if not KEY_SHAPE.fullmatch(key):
        raise BadUserInputError("An idempotency key is 1 to 255 printable ASCII characters.")
    operation = OPERATION_OF[mutation]
    found = await context.mutations.progress(operation, key)
    if found is None:
        return None, None
    result = PAYLOAD_OF[operation](found.outcome) if found.outcome else None
    return outcome_type(mutation, key, found, result), found


async def outcome_updates(
    context: Context, mutation: MutationName, key: str, *, every: float = FOLLOW_EVERY_SECONDS
) -> AsyncIterator[MutationOutcome | None]:
    """Where it stands now (null while the key is unknown: the app may subscribe before
    its request arrives), then each change, until it is final: completed or compensated,
    with no payment left pending. The stream then ends."""
    last: tuple[object, ...] | None = None
    while True:
        shown, found = await current_outcome(context, mutation, key)
        seen = _moment(found)
        if seen != last:
            last = seen
            yield shown
        if found is not None and _final(found):
            return
        await asyncio.sleep(every)


def _moment(found: Progress | None) -> tuple[object, ...]:
    if found is None:
        return ()
    return (found.status, found.step, found.settlement, found.updated_at)


def _final(found: Progress) -> bool:
    return found.status in _FINAL and found.settlement is not Settlement.PENDING
