"""Where a mutation sent with an idempotency key stands, without sending it again: for an
app that lost the answer (a mobile app killed in the middle of payInvoice).

Only the key's owner can ask: keys are scoped to the caller's issuer, subject and
mutation (app/idempotency/keys.py), so another user's key with the same text is simply
not there. What is stored is shown as a replay would show it, authorized as of now
(MutationService._replay_refusal).

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

from app.idempotency.store import KeyRecord
from app.mutations.outcomes import Outcome, ProblemCode
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
