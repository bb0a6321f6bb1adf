"""Where a mutation sent with an idempotency key stands, without sending it again: for an
app that lost the answer (a mobile app killed in the middle of payInvoice).

Only the key's owner can ask: keys are scoped to the caller's issuer, subject and
mutation (app/idempotency/keys.py), so another user's key with the same text is simply
not there. With several regions (app/residency/) the key is looked up in each: a region
that cannot be reached matters only when the key is found in none of the others
(RegionUnavailableError). What is stored is shown as a replay would show it, authorized as of now
(app/mutations/authority.py, Authority.replay_refusal).

- IN_PROGRESS: a request or the relay holds the key now, at `step`.
- PAUSED: nobody holds it and no outcome is stored: a downstream step's outcome was
  unknown. A retry with the same key resumes at `step` (the gateway's relay resumes a
  payInvoice by itself).
- WAITING_FOR_SETTLEMENT: payInvoice took a payment that is still pending (a bank
  transfer); the settler sees it through (app/settlement/).
- COMPLETED: the outcome is stored (a refusal stored as final is an outcome too); for a
  payInvoice that waited, `settlement` says how the money ended.
- COMPENSATED: payInvoice charged, the invoice refused the payment for good, and the
  charge was refunded in full.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.auth.principal import Principal
from app.downstream import models
from app.idempotency.keys import KeyScope
from app.idempotency.store import KeyRecord
from app.mutations.authority import Authority
from app.mutations.current_invoice import CurrentInvoice
from app.mutations.outcomes import Outcome, ProblemCode
from app.mutations.placement import Placement
from app.mutations.refusals import shown_to
from app.settlement.store import DONE, Watched


class Status(enum.Enum):
    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    WAITING_FOR_SETTLEMENT = "waiting_for_settlement"
    COMPLETED = "completed"
    COMPENSATED = "compensated"


class Step(enum.Enum):
    """The saga's recovery points, as clients may read them."""

    STARTED = "claimed"
    SENDING = "sending"
    LOCKED = "locked"
    CHARGING = "charging"
    RECORDING = "charged"
    COMPENSATING = "compensating"


class Settlement(enum.Enum):
    PENDING = "pending"
    SUCCEEDED = "recorded"
    FAILED = "failed"
    REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class Progress:
    status: Status
    step: Step | None
    settlement: Settlement | None
    started_at: datetime
    updated_at: datetime
    # The stored outcome, as a replay shows it now; None while there is none.
    outcome: Outcome | None


# The refusals a compensated payInvoice ends with (pay_invoice.PayInvoiceSaga._compensate):
# with a payment that was taken. A declined or failed charge carries its payment too, but
# with another code.
_COMPENSATION_CODES = frozenset({ProblemCode.INVALID_STATE, ProblemCode.AMOUNT_EXCEEDS_DUE})


def progress_of(record: KeyRecord, watched: Watched | None, outcome: Outcome | None) -> Progress:
    """`outcome`: the stored result as the caller may see it now (None if none stored)."""
    settlement = _settlement(watched)
    if not record.completed or outcome is None:
        status = Status.IN_PROGRESS if record.held else Status.PAUSED
        step = _step(record.recovery_point)
        return Progress(status, step, None, record.created_at, record.updated_at, None)
    if settlement is Settlement.PENDING:
        status = Status.WAITING_FOR_SETTLEMENT
    elif _compensated(outcome):
        status = Status.COMPENSATED
    else:
        status = Status.COMPLETED
    updated = max(record.updated_at, _settled_at(watched) or record.updated_at)
    return Progress(status, None, settlement, record.created_at, updated, outcome)


def _step(point: str) -> Step | None:
    try:
        return Step(point)
    except ValueError:
        return None


def _settlement(watched: Watched | None) -> Settlement | None:
    if watched is None:
        return None
    if watched.state != DONE or watched.outcome is None:
        return Settlement.PENDING
    try:
        return Settlement(watched.outcome)
    except ValueError:
        return None


def _settled_at(watched: Watched | None) -> datetime | None:
    return None if watched is None else watched.finished_at


def _compensated(outcome: Outcome) -> bool:
    codes = {p.code for p in outcome.problems}
    return "payment" in outcome.objects and bool(codes & _COMPENSATION_CODES)


class ProgressReader:
    """Reads a key's progress for the caller (MutationService.progress)."""

    def __init__(
        self,
        principal: Principal,
        placement: Placement,
        current: CurrentInvoice,
        authority: Authority,
    ) -> None:
        self._principal = principal
        self._placement = placement
        self._current = current
        self._authority = authority

    async def read(self, operation: str, key: str) -> Progress | None:
        """Where the caller's `operation` sent with `key` stands (app/mutations/progress.py),
        or None if this caller has no such key. Sends nothing; a stored outcome is shown
        as a replay of it would be now."""
        scope = KeyScope(self._principal.issuer, self._principal.subject, operation)
        found = await self._placement.find(scope.digest, key)
        if found is None:
            return None
        region, record = found
        outcome: Outcome | None = None
        if not record.completed:
            business = _business_of(record.state)
            if (
                business is not None
                and self._authority.refusal_for(operation, business) is not None
            ):
                return None  # a caller who may not act on it now learns nothing of it
        else:
            stored = Outcome.from_result(record.result or {})
            refusal = self._authority.replay_refusal(operation, stored)
            if refusal is not None:
                # What a first request would get, and nothing of the key's history.
                shown = shown_to(self._principal, operation, refusal)
                return Progress(
                    Status.COMPLETED, None, None, record.created_at, record.created_at, shown
                )
            outcome = stored
            if operation == "payInvoice":
                invoice_id = _invoice_id_of(stored)
                if invoice_id is not None:
                    outcome = await self._current.refreshed(outcome, invoice_id)
            outcome = shown_to(self._principal, operation, outcome)
        watched = (
            await region.watch.of_key(scope.digest, key) if operation == "payInvoice" else None
        )
        return progress_of(record, watched, outcome)


def _business_of(state: dict[str, Any] | None) -> str | None:
    """Whose business a key in progress acts on, once its state says (a single step's
    state, or payInvoice's plan)."""
    if not state:
        return None
    found = state.get("business_id") or (state.get("plan") or {}).get("business_id")
    return found if isinstance(found, str) else None


def _invoice_id_of(outcome: Outcome) -> str | None:
    for name in ("invoice", "payment"):
        found = outcome.objects.get(name)
        if isinstance(found, models.Invoice):
            return found.id
        if isinstance(found, models.Payment):
            return found.invoice_id
    return None
