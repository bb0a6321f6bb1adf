"""What an invoice already has coming: the one rule behind payInvoice's limit, voidInvoice's
refusal and Invoice.amountPending.

An invoice's amount due counts only payments recorded on it. Money can be on its way
without being recorded: a bank transfer is pending for days, and a payment that settled
is recorded a moment later (or, if the invoicing service is down, hours later). Charging
the amount due again meanwhile would collect twice once both land, so what can still be
charged is the amount due minus what is held:

- every pending payment against the invoice, in its currency, whoever took it;
- every succeeded payment not yet recorded on it, less what was refunded of it (when
  the invoice lists its payments; without the list, what succeeded beyond amount_paid);
- every pending payment the gateway itself is watching that the payments service did
  not list (an answer that lags must not open the door).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.downstream import models
from app.settlement.store import Watched


@dataclass(frozen=True, slots=True)
class Holding:
    pending: int
    unrecorded: int

    @property
    def total(self) -> int:
        return self.pending + self.unrecorded


def holding(
    invoice: models.Invoice,
    payments: Sequence[models.Payment],
    watched: Iterable[Watched] = (),
) -> Holding:
    mine = [p for p in payments if p.invoice_id == invoice.id and p.currency == invoice.currency]
    listed = {p.id for p in mine}
    pending = sum(p.amount for p in mine if p.status == "pending")
    pending += sum(
        w.amount
        for w in watched
        if w.payment_id not in listed
        and w.payment_id not in invoice.payment_ids
        and w.currency == invoice.currency
    )
    succeeded = [p for p in mine if p.status == "succeeded"]
    if lists_its_payments(invoice):
        recorded = set(invoice.payment_ids)
        unrecorded = sum(
            max(0, p.amount - p.amount_refunded) for p in succeeded if p.id not in recorded
        )
    else:
        # The invoice does not list its payments (the list is optional): compare totals.
        unrecorded = max(0, sum(p.amount for p in succeeded) - invoice.amount_paid)
    return Holding(pending=pending, unrecorded=unrecorded)


def lists_its_payments(invoice: models.Invoice) -> bool:
    """Whether the invoice's payment_ids is the list of what is recorded on it. The field
    is optional in the contract (a service may leave out an empty list): an invoice with
    nothing paid lists nothing either way; one with money paid and no list does not say
    which payments it recorded, and only totals can be compared."""
    return bool(invoice.payment_ids) or invoice.amount_paid == 0


def chargeable(invoice: models.Invoice, held: Holding) -> int:
    """What may still be charged now."""
    return max(0, invoice.amount_due - held.total)
