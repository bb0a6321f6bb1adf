"""The rule behind payInvoice's limit and voidInvoice's refusal: what an invoice already
has on its way, whoever took it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.downstream import models
from app.settlement.holds import Holding, chargeable, holding
from app.settlement.store import Watched

NOW = "2026-12-01T10:00:00Z"


def invoice(
    total: int = 10_000, paid: int = 0, payment_ids: list[str] | None = None
) -> models.Invoice:
    data: dict[str, Any] = {
        "id": "inv_1",
        "object": "invoice",
        "business_id": "biz_1",
        "customer_id": "cus_1",
        "number": "INV-1",
        "status": "open",
        "currency": "GBP",
        "lines": [{"description": "x", "quantity": 1, "unit_amount": total, "amount": total}],
        "tax_rate_bps": 0,
        "subtotal": total,
        "tax": 0,
        "total": total,
        "amount_paid": paid,
        "amount_due": total - paid,
        "due_date": "2027-01-01",
        "created_at": NOW,
        "updated_at": NOW,
    }
    if payment_ids is not None:
        data["payment_ids"] = payment_ids
    return models.Invoice.model_validate(data)


def payment(
    pid: str, amount: int, status: str, *, currency: str = "GBP", refunded: int = 0
) -> models.Payment:
    return models.Payment.model_validate(
        {
            "id": pid,
            "object": "payment",
            "business_id": "biz_1",
            "invoice_id": "inv_1",
            "amount": amount,
            "currency": currency,
            "status": status,
            "amount_refunded": refunded,
            "payment_method": {"type": "bank_transfer"},
            "created_at": NOW,
        }
    )


def watched(pid: str, amount: int) -> Watched:
    return Watched(
        payment_id=pid,
        invoice_id="inv_1",
        business_id="biz_1",
        amount=amount,
        currency="GBP",
        scope_digest="s" * 64,
        idempotency_key="k",
        actor_id="user",
        state="pending",
        outcome=None,
        refund_amount=None,
        checks=0,
        taken_at=datetime.now(UTC),
        settled_at=None,
        finished_at=None,
    )


def test_pending_payments_hold_their_amount() -> None:
    held = holding(invoice(), [payment("pay_a", 3000, "pending"), payment("pay_b", 500, "failed")])
    assert held == Holding(pending=3000, unrecorded=0)
    assert chargeable(invoice(), held) == 7000


def test_a_settled_payment_not_yet_recorded_holds_its_amount_less_refunds() -> None:
    held = holding(invoice(), [payment("pay_a", 4000, "succeeded", refunded=1000)])
    assert held == Holding(pending=0, unrecorded=3000)


def test_a_recorded_payment_holds_nothing() -> None:
    recorded = invoice(paid=4000, payment_ids=["pay_a"])
    assert holding(recorded, [payment("pay_a", 4000, "succeeded")]).total == 0


def test_a_compensated_payment_holds_nothing() -> None:
    # charged, refused by the invoice, refunded in full: nothing is on its way
    assert holding(invoice(), [payment("pay_a", 4000, "succeeded", refunded=4000)]).total == 0


def test_without_a_payment_list_succeeded_beyond_amount_paid_is_held() -> None:
    # payment_ids is optional in the contract: compare totals instead
    unlisted = invoice(paid=4000)
    paid = [payment("pay_a", 4000, "succeeded"), payment("pay_b", 1500, "succeeded")]
    assert holding(unlisted, paid) == Holding(pending=0, unrecorded=1500)


def test_another_currency_holds_nothing_on_this_invoice() -> None:
    assert holding(invoice(), [payment("pay_a", 3000, "pending", currency="EUR")]).total == 0


def test_a_watched_payment_the_service_did_not_list_still_holds() -> None:
    # an answer that lags must not open the door to a second charge
    held = holding(invoice(), [], [watched("pay_w", 2500)])
    assert held == Holding(pending=2500, unrecorded=0)
    # and one the service lists is counted once, by what the service says
    listed = holding(invoice(), [payment("pay_w", 2500, "failed")], [watched("pay_w", 2500)])
    assert listed.total == 0


@given(
    total=st.integers(min_value=1, max_value=10**12),
    amounts=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=10**12),
            st.sampled_from(["pending", "succeeded", "failed"]),
        ),
        max_size=6,
    ),
)
def test_what_can_be_charged_plus_what_is_held_never_exceeds_what_is_due(
    total: int, amounts: list[tuple[int, str]]
) -> None:
    owed = invoice(total=total)
    payments = [payment(f"pay_{n}", amount, status) for n, (amount, status) in enumerate(amounts)]
    held = holding(owed, payments)
    room = chargeable(owed, held)
    assert 0 <= room <= owed.amount_due
    assert room == max(0, owed.amount_due - held.total)
    assert held.pending == sum(a for a, s in amounts if s == "pending")
