"""Following a mutation by its key: the current state, each change once, and the end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from app.mutations.outcomes import Outcome
from app.mutations.progress import Progress, Settlement, Status, Step
from app.schema.resolvers.context import Context
from app.schema.resolvers.outcome import outcome_updates
from app.schema.types.field_errors import BadUserInputError
from app.schema.types.outcome import MutationName, MutationStatus, SettlementStatus

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def at(seconds: int, status: Status, **more: Any) -> Progress:
    fields: dict[str, Any] = {
        "step": None,
        "settlement": None,
        "started_at": T0,
        "updated_at": T0 + timedelta(seconds=seconds),
        "outcome": Outcome() if status is not Status.IN_PROGRESS else None,
    }
    fields.update(more)
    return Progress(status=status, **fields)


class Scripted:
    """A mutation service whose key moves through `states`, one per look."""

    def __init__(self, states: list[Progress | None]) -> None:
        self._states: Iterator[Progress | None] = iter(states)
        self.looks = 0

    async def progress(self, operation: str, key: str) -> Progress | None:
        assert (operation, key) == ("payInvoice", "k-1")
        self.looks += 1
        return next(self._states)


class FakeContext:
    def __init__(self, service: Scripted) -> None:
        self.mutations = service


Seen = tuple[MutationStatus, SettlementStatus | None] | None


async def follow(states: list[Progress | None]) -> tuple[list[Seen], int]:
    service = Scripted(states)
    context = cast(Context, FakeContext(service))
    seen: list[Seen] = [
        None if shown is None else (shown.status, shown.settlement)
        async for shown in outcome_updates(context, MutationName.PAY_INVOICE, "k-1", every=0)
    ]
    return seen, service.looks


async def test_a_transfer_is_followed_from_unknown_to_settled() -> None:
    running = at(1, Status.IN_PROGRESS, step=Step.CHARGING)
    waiting = at(2, Status.WAITING_FOR_SETTLEMENT, settlement=Settlement.PENDING)
    settled = at(9, Status.COMPLETED, settlement=Settlement.SUCCEEDED)

    seen, looks = await follow([None, None, running, running, waiting, waiting, settled])

    assert seen == [
        None,
        (MutationStatus.IN_PROGRESS, None),
        (MutationStatus.WAITING_FOR_SETTLEMENT, SettlementStatus.PENDING),
        (MutationStatus.COMPLETED, SettlementStatus.SUCCEEDED),
    ]
    assert looks == 7  # and no look after the final state


async def test_a_completed_mutation_is_shown_once_and_ends() -> None:
    seen, looks = await follow([at(1, Status.COMPLETED)])

    assert (len(seen), looks) == (1, 1)


async def test_a_malformed_key_is_refused_before_any_look() -> None:
    service = Scripted([])
    context = cast(Context, FakeContext(service))

    with pytest.raises(BadUserInputError):
        async for _ in outcome_updates(context, MutationName.PAY_INVOICE, "bad key", every=0):
            pass
    assert service.looks == 0
