"""progress_of: the status a key's record and watch row add up to."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from app.idempotency.store import KeyRecord
from app.mutations.outcomes import Outcome, ProblemCode, problem
from app.mutations.progress import Settlement, Status, Step, progress_of
from app.settlement.store import DONE, PENDING, Watched
from tests.settlement.test_holds import payment as a_payment

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
RUNNING = KeyRecord(False, "charging", True, None, T0, T0 + timedelta(seconds=1))
DONE_RECORD = KeyRecord(True, "done", False, {}, T0, T0 + timedelta(seconds=2))
WATCHED = Watched(
    payment_id="pay_1",
    invoice_id="inv_1",
    business_id="biz_1",
    amount=100,
    currency="GBP",
    scope_digest="d",
    idempotency_key="k",
    actor_id="u",
    state=PENDING,
    outcome=None,
    refund_amount=None,
    checks=0,
    taken_at=T0,
    settled_at=None,
    finished_at=None,
)


def test_a_held_key_is_in_progress_at_its_step() -> None:
    found = progress_of(RUNNING, None, None)

    assert (found.status, found.step, found.outcome) == (Status.IN_PROGRESS, Step.CHARGING, None)


@pytest.mark.parametrize(
    ("point", "step"), [("claimed", Step.STARTED), ("charged", Step.RECORDING), ("x", None)]
)
def test_a_key_nobody_holds_is_paused(point: str, step: Step | None) -> None:
    record = dataclasses.replace(RUNNING, held=False, recovery_point=point)

    found = progress_of(record, None, None)

    assert (found.status, found.step) == (Status.PAUSED, step)


def test_a_pending_payment_is_waiting_then_ends_as_settled() -> None:
    outcome = Outcome()
    finished = T0 + timedelta(days=2)
    settled = dataclasses.replace(WATCHED, state=DONE, outcome="refunded", finished_at=finished)

    waiting = progress_of(DONE_RECORD, WATCHED, outcome)
    ended = progress_of(DONE_RECORD, settled, outcome)

    assert (waiting.status, waiting.settlement) == (
        Status.WAITING_FOR_SETTLEMENT,
        Settlement.PENDING,
    )
    assert (ended.status, ended.settlement, ended.updated_at) == (
        Status.COMPLETED,
        Settlement.REFUNDED,
        finished,
    )


def test_only_a_refusal_with_a_taken_payment_is_a_compensation() -> None:
    payment = a_payment("pay_1", 100, "succeeded")
    compensated = problem(ProblemCode.INVALID_STATE, "refunded")
    compensated.objects["payment"] = payment
    declined = problem(ProblemCode.PAYMENT_DECLINED, "declined")
    declined.objects["payment"] = payment
    refused = problem(ProblemCode.INVALID_STATE, "a draft")

    assert progress_of(DONE_RECORD, None, compensated).status is Status.COMPENSATED
    assert progress_of(DONE_RECORD, None, declined).status is Status.COMPLETED
    assert progress_of(DONE_RECORD, None, refused).status is Status.COMPLETED
