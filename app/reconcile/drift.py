"""Drift between the two services' books, for one business: a pure comparison of what was
read (payments, invoices, and which payments the gateway watches) into findings.

- `succeeded_unrecorded`: a succeeded payment, net of refunds > 0, that its invoice does
  not list in payment_ids. An invoice without the list (the field is optional) is
  compared by totals: what succeeded beyond amount_paid, at least (a fully refunded
  payment is left out, recorded or not, so only certain drift is reported);
- `recorded_not_succeeded`: an id in an invoice's payment_ids whose payment is pending,
  failed, or unknown to the payments service;
- `over_collected`: an invoice whose succeeded payments, net of refunds, exceed its total;
- `pending_too_long`: a payment pending for longer than the alert age (its created_at).

As for what an invoice has coming (app/settlement/holds.py), a payment counts against an
invoice only in the invoice's currency: payInvoice charges in the invoice's currency, and
a payment in another one could never be recorded on it anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from app.downstream.models import Invoice, Payment
from app.settlement.holds import lists_its_payments

Kind = Literal[
    "succeeded_unrecorded", "recorded_not_succeeded", "over_collected", "pending_too_long"
]
KINDS: Final[tuple[Kind, ...]] = (
    "succeeded_unrecorded",
    "recorded_not_succeeded",
    "over_collected",
    "pending_too_long",
)
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Finding:
    """One drift. Amounts are integers in the currency's minor units; `amount` is the
    amount at issue (None when the payment is unknown)."""

    kind: Kind
    business_id: str
    invoice_id: str
    payment_id: str | None
    amount: int | None
    currency: str
    payment_status: str | None
    # The gateway took the payment (it is in the payment_watch table), and the row's state.
    owned: bool
    watch_state: str | None
    invoice_total: int | None
    invoice_amount_paid: int | None
    collected: int | None
    age_seconds: int | None
    note: str

    @property
    def sort_key(self) -> tuple[int, str, str]:
        return (KINDS.index(self.kind), self.invoice_id, self.payment_id or "")


@dataclass(frozen=True, slots=True)
class Books:
    """What was read of one business."""

    business_id: str
    payments: Sequence[Payment]
    invoices: Sequence[Invoice]
    # payment id -> state of its payment_watch row, for the payments the gateway took.
    watched: Mapping[str, str]


def net(payment: Payment) -> int:
    return payment.amount - payment.amount_refunded


def compare(books: Books, *, now: datetime, pending_limit: timedelta) -> list[Finding]:
    found = _Finder(books)
    findings = [
        *found.succeeded_unrecorded(),
        *found.recorded_not_succeeded(),
        *found.over_collected(),
        *found.pending_too_long(now, pending_limit),
    ]
    return sorted(findings, key=lambda f: f.sort_key)


class _Finder:
    def __init__(self, books: Books) -> None:
        self._books = books
        self._payments = {p.id: p for p in books.payments}
        self._invoices = {i.id: i for i in books.invoices}
        # The business's own: what another business's listing or invoice says is not ours.
        self._own_payments = [p for p in books.payments if p.business_id == books.business_id]
        self._own_invoices = [i for i in books.invoices if i.business_id == books.business_id]

    def succeeded_unrecorded(self) -> Iterable[Finding]:
        for payment in self._own_payments:
            if payment.status != "succeeded" or net(payment) <= 0:
                continue
            invoice = self._invoices.get(payment.invoice_id)
            if invoice is None:
                yield self._finding(
                    "succeeded_unrecorded",
                    payment.invoice_id,
                    payment,
                    net(payment),
                    payment.currency,
                    "succeeded; its invoice is unknown to the invoicing service",
                )
            elif (
                invoice.currency == payment.currency
                and lists_its_payments(invoice)
                and payment.id not in invoice.payment_ids
            ):
                yield self._finding(
                    "succeeded_unrecorded",
                    invoice.id,
                    payment,
                    net(payment),
                    invoice.currency,
                    "succeeded, not in the invoice's payment_ids",
                    invoice=invoice,
                )
        for invoice in self._own_invoices:
            if lists_its_payments(invoice):
                continue
            succeeded = sum(
                p.amount
                for p in self._succeeded_on(invoice)
                if net(p) > 0  # a fully refunded one may be recorded or not: left out
            )
            beyond = succeeded - invoice.amount_paid
            if beyond > 0:
                yield self._finding(
                    "succeeded_unrecorded",
                    invoice.id,
                    None,
                    beyond,
                    invoice.currency,
                    "the invoice lists no payment_ids: succeeded payments exceed amount_paid "
                    "by at least this",
                    invoice=invoice,
                )

    def recorded_not_succeeded(self) -> Iterable[Finding]:
        for invoice in self._own_invoices:
            for payment_id in invoice.payment_ids:
                payment = self._payments.get(payment_id)
                if payment is not None and payment.status == "succeeded":
                    continue
                status = payment.status if payment is not None else UNKNOWN
                yield Finding(
                    kind="recorded_not_succeeded",
                    business_id=self._books.business_id,
                    invoice_id=invoice.id,
                    payment_id=payment_id,
                    amount=payment.amount if payment is not None else None,
                    currency=payment.currency if payment is not None else invoice.currency,
                    payment_status=status,
                    owned=payment_id in self._books.watched,
                    watch_state=self._books.watched.get(payment_id),
                    invoice_total=invoice.total,
                    invoice_amount_paid=invoice.amount_paid,
                    collected=None,
                    age_seconds=None,
                    note=(
                        "recorded on the invoice, unknown to the payments service"
                        if payment is None
                        else f"recorded on the invoice, but {status}"
                    ),
                )

    def over_collected(self) -> Iterable[Finding]:
        for invoice in self._own_invoices:
            collected = sum(net(p) for p in self._succeeded_on(invoice))
            if collected > invoice.total:
                yield self._finding(
                    "over_collected",
                    invoice.id,
                    None,
                    collected - invoice.total,
                    invoice.currency,
                    "succeeded payments, net of refunds, exceed the invoice's total by this",
                    invoice=invoice,
                    collected=collected,
                )

    def pending_too_long(self, now: datetime, limit: timedelta) -> Iterable[Finding]:
        for payment in self._own_payments:
            if payment.status != "pending":
                continue
            created = payment.created_at
            if created.tzinfo is None:  # RFC 3339 carries an offset; a lying service may not
                created = created.replace(tzinfo=UTC)
            age = now - created
            if age <= limit:
                continue
            invoice = self._invoices.get(payment.invoice_id)
            yield self._finding(
                "pending_too_long",
                payment.invoice_id,
                payment,
                payment.amount,
                payment.currency,
                f"pending for {age.days} days",
                invoice=invoice,
                age_seconds=int(age.total_seconds()),
            )

    def _succeeded_on(self, invoice: Invoice) -> list[Payment]:
        return [
            p
            for p in self._own_payments
            if p.invoice_id == invoice.id
            and p.currency == invoice.currency
            and p.status == "succeeded"
        ]

    def _finding(
        self,
        kind: Kind,
        invoice_id: str,
        payment: Payment | None,
        amount: int,
        currency: str,
        note: str,
        *,
        invoice: Invoice | None = None,
        collected: int | None = None,
        age_seconds: int | None = None,
    ) -> Finding:
        watched = self._books.watched
        payment_id = payment.id if payment is not None else None
        return Finding(
            kind=kind,
            business_id=self._books.business_id,
            invoice_id=invoice_id,
            payment_id=payment_id,
            amount=amount,
            currency=currency,
            payment_status=payment.status if payment is not None else None,
            owned=payment_id is not None and payment_id in watched,
            watch_state=watched.get(payment_id) if payment_id is not None else None,
            invoice_total=invoice.total if invoice is not None else None,
            invoice_amount_paid=invoice.amount_paid if invoice is not None else None,
            collected=collected,
            age_seconds=age_seconds,
            note=note,
        )


def counts(findings: Iterable[Finding]) -> dict[Kind, int]:
    """Every kind, 0 when none: a cleared drift shows as 0, not as nothing."""
    tally: dict[Kind, int] = dict.fromkeys(KINDS, 0)
    for finding in findings:
        tally[finding.kind] += 1
    return tally
