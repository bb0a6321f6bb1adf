"""Which events a change causes, and their data: derived from the downstream objects a
mutation or settlement step ends with, and recorded in the transaction that stores that
end (the idempotency key's outcome, the watch row's new state). A replayed request ends
nothing new, so it records nothing.

Data holds ids, statuses and money only, never personal data (no names, emails, phones:
an event travels to partners and is kept): money is {"amount": "<minor units>",
"currency": "GBP"}, a decimal string as everywhere on the wire (docs/events.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeGuard, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from app.downstream import models
from app.events import store
from app.events.envelope import EventType

T = TypeVar("T", bound=models.ContractModel)


@dataclass(frozen=True, slots=True)
class NewEvent:
    type: EventType
    business_id: str
    subject: str
    data: Mapping[str, Any]


def money(amount: int, currency: str) -> dict[str, str]:
    return {"amount": str(amount), "currency": currency}


def customer_event(customer: models.Customer) -> NewEvent:
    # The id only: a customer's name, email and phone are personal data.
    return NewEvent(
        EventType.CUSTOMER_CREATED, customer.business_id, customer.id, {"id": customer.id}
    )


def invoice_event(kind: EventType, invoice: models.Invoice) -> NewEvent:
    return NewEvent(
        kind,
        invoice.business_id,
        invoice.id,
        {
            "id": invoice.id,
            "status": invoice.status,
            "customer_id": invoice.customer_id,
            "total": money(invoice.total, invoice.currency),
            "amount_paid": money(invoice.amount_paid, invoice.currency),
            "amount_due": money(invoice.amount_due, invoice.currency),
        },
    )


_PAYMENT_EVENTS = {
    "pending": EventType.PAYMENT_PENDING,
    "succeeded": EventType.PAYMENT_SUCCEEDED,
    "failed": EventType.PAYMENT_FAILED,
}


def payment_event(
    status: str, *, payment_id: str, invoice_id: str, business_id: str, amount: int, currency: str
) -> NewEvent:
    return NewEvent(
        _PAYMENT_EVENTS[status],
        business_id,
        payment_id,
        {
            "id": payment_id,
            "status": status,
            "invoice_id": invoice_id,
            "amount": money(amount, currency),
        },
    )


def payment_event_of(payment: models.Payment) -> NewEvent:
    return payment_event(
        payment.status,
        payment_id=payment.id,
        invoice_id=payment.invoice_id,
        business_id=payment.business_id,
        amount=payment.amount,
        currency=payment.currency,
    )


def refund_event(refund: models.Refund) -> NewEvent:
    return NewEvent(
        EventType.REFUND_SUCCEEDED,
        refund.business_id,
        refund.id,
        {
            "id": refund.id,
            "status": refund.status,
            "payment_id": refund.payment_id,
            "amount": money(refund.amount, refund.currency),
        },
    )


def is_paid(invoice: models.Invoice | None) -> TypeGuard[models.Invoice]:
    return invoice is not None and invoice.status == "paid" and invoice.amount_due == 0


def of_mutation(
    operation: str, objects: Mapping[str, models.ContractModel], *, succeeded: bool
) -> list[NewEvent]:
    """The events a mutation's stored outcome stands for. `succeeded`: the outcome has no
    user errors. Only payInvoice ends with events after a refusal: a declined charge is a
    failed payment, a compensated one a refund."""
    invoice = _of(objects, "invoice", models.Invoice)
    if operation == "payInvoice":
        return _of_payment(objects, invoice, succeeded=succeeded)
    if not succeeded:
        return []
    customer = _of(objects, "customer", models.Customer)
    refund = _of(objects, "refund", models.Refund)
    found: list[NewEvent] = []
    if operation == "createCustomer" and customer is not None:
        found.append(customer_event(customer))
    elif operation == "createInvoice" and invoice is not None:
        found.append(invoice_event(EventType.INVOICE_CREATED, invoice))
    elif operation == "finalizeInvoice" and invoice is not None:
        found.append(invoice_event(EventType.INVOICE_FINALIZED, invoice))
        # A zero-total invoice is paid as it is finalized.
        if is_paid(invoice):
            found.append(invoice_event(EventType.INVOICE_PAID, invoice))
    elif operation == "voidInvoice" and invoice is not None and invoice.status == "void":
        found.append(invoice_event(EventType.INVOICE_VOIDED, invoice))
    elif operation == "refundPayment" and refund is not None and refund.status == "succeeded":
        found.append(refund_event(refund))
    return found


def _of_payment(
    objects: Mapping[str, models.ContractModel],
    invoice: models.Invoice | None,
    *,
    succeeded: bool,
) -> list[NewEvent]:
    payment = _of(objects, "payment", models.Payment)
    if payment is None:
        # Refused before any charge: nothing happened.
        return []
    found = [payment_event_of(payment)]
    refund = _of(objects, "refund", models.Refund)
    if refund is not None and refund.status == "succeeded":
        found.append(refund_event(refund))
    if succeeded and payment.status == "succeeded" and is_paid(invoice):
        found.append(invoice_event(EventType.INVOICE_PAID, invoice))
    return found


def _of(objects: Mapping[str, models.ContractModel], name: str, kind: type[T]) -> T | None:
    found = objects.get(name)
    return found if isinstance(found, kind) else None


async def record_all(
    connection: AsyncConnection, found: Sequence[NewEvent], *, now: datetime | None = None
) -> None:
    """In the caller's transaction, in order (a subject's sequence follows it)."""
    occurred_at = now or datetime.now(UTC)
    for event in found:
        await store.record(
            connection,
            event.type,
            event.business_id,
            event.subject,
            event.data,
            occurred_at=occurred_at,
            now=occurred_at,
        )


def recorder(
    found: Sequence[NewEvent],
) -> Callable[[AsyncConnection], Awaitable[None]] | None:
    """An `also=` hook that records `found`; None when there is nothing to record."""
    if not found:
        return None

    async def hook(connection: AsyncConnection) -> None:
        await record_all(connection, found)

    return hook
