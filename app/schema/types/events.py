"""What a subscription delivers: one change, as the event that announced it (its id,
sequence and time, for ordering and deduplication) with the object as it now stands.

The object is read when the event is delivered, through the caller's read service, so it
is admitted by the same ownership rules as a query, and its fields by the same role and
scope rules (FieldPolicy): a viewer's `payment { paymentMethod }` is FORBIDDEN on every
event, as in a query. Its field carries `Owned` like every object-returning field.
"""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from app.events.envelope import EventType
from app.schema.types.fields import resolved
from app.schema.types.guards import Owned
from app.schema.types.nodes import Invoice, Node, Payment

_SEQUENCE = " ".join(
    [
        "The event's place among its subject's events, from 1 without gaps: order by it,",
        "drop one already seen; a jump means events were missed (re-read the object).",
    ]
)
_EVENT_ID = 'The event\'s id ("evt_…"), unique: deduplicate by it.'


@strawberry.enum(description="What happened to a payment.")
class PaymentChange(enum.Enum):
    PENDING = strawberry.enum_value(
        "payment.pending", description="Taken, not settled yet (a bank transfer)."
    )
    SUCCEEDED = strawberry.enum_value("payment.succeeded", description="The money moved.")
    FAILED = strawberry.enum_value("payment.failed", description="Nothing moved.")
    REFUNDED = strawberry.enum_value(
        "refund.succeeded", description="Money went back to the customer (in part or whole)."
    )


@strawberry.enum(description="What happened to an invoice.")
class InvoiceChange(enum.Enum):
    CREATED = strawberry.enum_value("invoice.created", description="Created as a draft.")
    FINALIZED = strawberry.enum_value("invoice.finalized", description="Finalized: now open.")
    PAID = strawberry.enum_value("invoice.paid", description="Paid in full.")
    VOIDED = strawberry.enum_value("invoice.voided", description="Cancelled.")


@strawberry.enum(description="The kind of a domain event.")
class DomainEventType(enum.Enum):
    CUSTOMER_CREATED = strawberry.enum_value("customer.created", description="A new customer.")
    INVOICE_CREATED = strawberry.enum_value("invoice.created", description="A new invoice.")
    INVOICE_FINALIZED = strawberry.enum_value(
        "invoice.finalized", description="An invoice was finalized."
    )
    INVOICE_PAID = strawberry.enum_value("invoice.paid", description="An invoice was paid.")
    INVOICE_VOIDED = strawberry.enum_value("invoice.voided", description="An invoice was voided.")
    PAYMENT_PENDING = strawberry.enum_value(
        "payment.pending", description="A payment is waiting to settle."
    )
    PAYMENT_SUCCEEDED = strawberry.enum_value(
        "payment.succeeded", description="A payment succeeded."
    )
    PAYMENT_FAILED = strawberry.enum_value("payment.failed", description="A payment failed.")
    REFUND_SUCCEEDED = strawberry.enum_value(
        "refund.succeeded", description="A refund went through."
    )


PAYMENT_EVENTS = frozenset(
    {
        EventType.PAYMENT_PENDING,
        EventType.PAYMENT_SUCCEEDED,
        EventType.PAYMENT_FAILED,
        EventType.REFUND_SUCCEEDED,
    }
)
INVOICE_EVENTS = frozenset(
    {
        EventType.INVOICE_CREATED,
        EventType.INVOICE_FINALIZED,
        EventType.INVOICE_PAID,
        EventType.INVOICE_VOIDED,
    }
)


@strawberry.type(description="A payment of the invoice changed.")
class PaymentUpdate:
    event_id: strawberry.ID = strawberry.field(description=_EVENT_ID)
    change: PaymentChange = strawberry.field(description="What happened.")
    sequence: int = strawberry.field(description=_SEQUENCE)
    occurred_at: datetime = strawberry.field(description="When it happened.")
    shown: strawberry.Private[Payment | None]

    @resolved("The payment as it stands now.", extensions=[Owned.in_payload("Payment")])
    def payment(self) -> Payment | None:
        return self.shown


@strawberry.type(description="An invoice of the business changed.")
class InvoiceUpdate:
    event_id: strawberry.ID = strawberry.field(description=_EVENT_ID)
    change: InvoiceChange = strawberry.field(description="What happened.")
    sequence: int = strawberry.field(description=_SEQUENCE)
    occurred_at: datetime = strawberry.field(description="When it happened.")
    shown: strawberry.Private[Invoice | None]

    @resolved("The invoice as it stands now.", extensions=[Owned.in_payload("Invoice")])
    def invoice(self) -> Invoice | None:
        return self.shown


@strawberry.type(description="Something happened in the business.")
class BusinessEvent:
    id: strawberry.ID = strawberry.field(description=_EVENT_ID)
    type: DomainEventType = strawberry.field(description="What happened.")
    subject_id: strawberry.ID = strawberry.field(
        description="The id of the object it happened to (an invoice, payment, customer, refund)."
    )
    sequence: int = strawberry.field(description=_SEQUENCE)
    occurred_at: datetime = strawberry.field(description="When it happened.")
    shown: strawberry.Private[Node | None]

    @resolved(
        "The object as it stands now; null if it can no longer be read.",
        extensions=[Owned("Node", missing_is_error=False)],
    )
    def object(self) -> Node | None:
        return self.shown
