"""The seed's money that settles later (issue 14): pending payments agree with invoices.

The gateway's rule: an invoice can still be charged amount_due minus every pending
payment against it, and a pending payment blocks voiding it. So the seed must never
promise more than an invoice's total, and the handy ids that tests charge or void must
stay chargeable and voidable.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
import pytest

from sandbox import seed
from sandbox.seed import SeedInvoice, SeedPayment
from tests.sandbox.test_seed import all_invoices, payments_of

INVOICES = {inv.id: inv for inv in seed.INVOICES}
PAYMENTS_OF: dict[str, list[SeedPayment]] = defaultdict(list)
for _payment in seed.PAYMENTS:
    PAYMENTS_OF[_payment.invoice_id].append(_payment)


def with_status(invoice_id: str, status: str) -> list[SeedPayment]:
    return [p for p in PAYMENTS_OF[invoice_id] if p.status == status]


def pending_sum(invoice: SeedInvoice) -> int:
    """Pending payments against `invoice` in its own currency."""
    return sum(
        p.amount for p in with_status(invoice.id, "pending") if p.currency == invoice.currency
    )


def chargeable(invoice: SeedInvoice) -> int:
    """What the gateway lets a caller charge: amount_due less every pending payment."""
    return invoice.amount_due - pending_sum(invoice)


def test_every_payment_is_for_a_seeded_invoice_of_its_business_in_its_currency() -> None:
    for payment in seed.PAYMENTS:
        invoice = INVOICES[payment.invoice_id]
        assert (payment.business_id, payment.currency) == (invoice.business_id, invoice.currency)


def test_paid_and_pending_never_exceed_the_total() -> None:
    over = [
        (inv.id, inv.amount_paid, pending_sum(inv), inv.total)
        for inv in seed.INVOICES
        if inv.amount_paid + pending_sum(inv) > inv.total
    ]
    assert over == []
    assert min(chargeable(inv) for inv in seed.INVOICES) == 0


def test_payment_ids_are_exactly_the_succeeded_payments_and_no_more_than_the_total() -> None:
    for invoice in seed.INVOICES:
        succeeded = sorted(with_status(invoice.id, "succeeded"), key=lambda p: (p.created_at, p.id))
        assert list(invoice.payment_ids) == [p.id for p in succeeded], invoice.id
        collected = sum(p.amount for p in succeeded)
        assert invoice.amount_paid == collected <= invoice.total, invoice.id


def test_pending_payments_are_on_open_invoices_only() -> None:
    pending = [p for p in seed.PAYMENTS if p.status == "pending"]
    assert pending, "the demo shows transfers on their way"
    assert {INVOICES[p.invoice_id].status for p in pending} == {"open"}


def test_the_demo_shows_both_shapes_of_pending_money() -> None:
    # an open invoice whose whole amount is on its way: nothing left to charge
    whole = [
        inv for inv in seed.INVOICES if inv.amount_paid == 0 and pending_sum(inv) == inv.total > 0
    ]
    # and a partly paid one whose rest is on its way
    rest = [inv for inv in seed.INVOICES if inv.amount_paid > 0 and pending_sum(inv) > 0]
    assert whole
    assert [inv.id for inv in rest] == [seed.IN_LARGE_INVOICE_ID]
    assert chargeable(INVOICES[seed.IN_LARGE_INVOICE_ID]) == 0


@pytest.mark.parametrize(
    "invoice_id",
    [
        *seed.OPEN_INVOICE_IDS.values(),
        seed.GB_PARTLY_PAID_INVOICE_ID,
        seed.JPY_INVOICE_ID,
    ],
)
def test_the_handy_chargeable_invoices_have_nothing_pending(invoice_id: str) -> None:
    # Tests charge these for their whole amount due, and void the unpaid ones.
    invoice = INVOICES[invoice_id]
    assert invoice.status == "open"
    assert with_status(invoice_id, "pending") == []
    assert chargeable(invoice) == invoice.amount_due > 0


def test_the_handy_pending_payment_is_on_an_open_invoice_it_blocks() -> None:
    payment = next(p for p in seed.PAYMENTS if p.id == seed.PENDING_PAYMENT_ID)
    invoice = INVOICES[payment.invoice_id]
    assert (payment.status, payment.payment_method) == ("pending", "pm_bank_transfer")
    assert invoice.status == "open"
    assert chargeable(invoice) == invoice.amount_due - payment.amount


async def test_the_services_answer_the_same_invariants(
    invoicing: httpx.AsyncClient, payments: httpx.AsyncClient
) -> None:
    # given every invoice and every payment of every demo business, as the gateway reads them
    for business_id in seed.DEMO_BUSINESS_IDS:
        invoices = await all_invoices(invoicing, business_id)
        taken = await payments_of(payments, [i["id"] for i in invoices])
        by_invoice: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for payment in taken:
            by_invoice[payment["invoice_id"]].append(payment)
        # then, for each invoice
        for invoice in invoices:
            mine = by_invoice[invoice["id"]]
            pending = [p for p in mine if p["status"] == "pending"]
            succeeded = sorted(
                (p for p in mine if p["status"] == "succeeded"),
                key=lambda p: (p["created_at"], p["id"]),
            )
            in_currency = sum(p["amount"] for p in pending if p["currency"] == invoice["currency"])
            assert invoice["amount_paid"] + in_currency <= invoice["total"], invoice["id"]
            assert in_currency <= invoice["amount_due"], invoice["id"]
            assert not pending or invoice["status"] == "open", invoice["id"]
            assert invoice["payment_ids"] == [p["id"] for p in succeeded], invoice["id"]
            assert sum(p["amount"] for p in succeeded) <= invoice["total"], invoice["id"]
