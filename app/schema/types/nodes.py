"""The objects of the public schema that have an id and belong to one business.

Data fields resolve synchronously: plain attributes filled when the object is built, or,
for an invoice's amounts and lines, built from its record when selected (below). Only
edges to other objects load, and every edge carries `Owned`. An
invoice page reads its invoices' customers, payments and refunds for the whole page at
once when the query selects them, and those edges then resolve synchronously too.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar

import strawberry

from app.auth.principal import Principal
from app.downstream import models
from app.reads.levels import InvoiceChildren, Listed
from app.schema.types.enums import (
    CountryCode,
    CurrencyCode,
    InvoiceStatus,
    PaymentStatus,
    RefundReason,
    Role,
    member_of,
)
from app.schema.types.field_errors import not_found
from app.schema.types.fields import deferred, resolved
from app.schema.types.guards import FieldPolicy, Owned
from app.schema.types.pagination import Connection, decode_cursor, given_cursor, page_size
from app.schema.types.ports import SchemaContext
from app.schema.types.prefetch import invoice_children_wanted, invoice_listing
from app.schema.types.reported import shown
from app.schema.types.values import Balance, InvoiceLine, Money, PaymentMethod
from app.settlement.holds import holding

Info = strawberry.Info[SchemaContext, None]

_AMOUNT_PENDING = " ".join(
    [
        'Money on its way to this invoice, in major units, e.g. "250.00": payments not yet',
        "settled (a bank transfer takes days) or settled but not yet recorded on it.",
        "payInvoice may charge at most amountDue − amountPending, and voidInvoice waits",
        "while it is not zero (PAYMENT_PENDING). Read from the payments service each time;",
        "needs a scope that may read payments.",
    ]
)

FIRST = strawberry.argument(description="Page size, 1 to 100.")
AFTER = strawberry.argument(description="Cursor of the item to continue after (endCursor).")


@strawberry.interface(description="An object with an id that `node` and `nodes` can fetch.")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque, globally unique id.")


@strawberry.type(description="A business the caller is a member of.")
class Business(Node):
    type_name: ClassVar[str] = "Business"
    business_id: strawberry.Private[str]
    name: str = strawberry.field(description="Trading name.", permission_classes=[FieldPolicy])
    country: CountryCode = strawberry.field(
        description="Country of registration.", permission_classes=[FieldPolicy]
    )
    default_currency: CurrencyCode = strawberry.field(
        description="Currency new invoices use unless another is chosen.",
        permission_classes=[FieldPolicy],
    )
    vat_number: str | None = strawberry.field(
        description="GB VAT number or Indian GSTIN. Owner, admin and accountant only.",
        permission_classes=[FieldPolicy],
    )
    viewer_role: Role = strawberry.field(description="The caller's role in this business.")

    @resolved(
        "Money held for the business. Owner, admin and accountant only; null if the "
        "payments service has no balance for it.",
        extensions=[Owned("Balance", missing_is_error=False)],
        permission_classes=[FieldPolicy],
    )
    async def balance(self, info: Info) -> Balance | None:
        record = await info.context.reads.balance(self.business_id)
        return Balance.of(record) if record else None

    @resolved("The business's customers, newest first.", extensions=[Owned("Customer")])
    async def customers(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = 20,
        after: Annotated[str | None, AFTER] = strawberry.UNSET,
    ) -> Connection[Customer]:
        page = await info.context.reads.customers_page(
            self.business_id,
            limit=page_size(first),
            starting_after=decode_cursor(given_cursor(after), "cus_"),
        )
        return Connection.of([Customer.of(c) for c in shown(info, page)], page.has_more, _node_id)

    @resolved("The business's invoices, newest first.", extensions=[Owned("Invoice")])
    async def invoices(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = 20,
        after: Annotated[str | None, AFTER] = strawberry.UNSET,
        status: Annotated[
            InvoiceStatus | None, strawberry.argument(description="Only invoices in this status.")
        ] = strawberry.UNSET,
        customer_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this customer's invoices.")
        ] = strawberry.UNSET,
    ) -> Connection[Invoice]:
        return await _invoice_page(info, self.business_id, first, after, status, customer_id)

    @resolved("Payments taken for the business, newest first.", extensions=[Owned("Payment")])
    async def payments(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = 20,
        after: Annotated[str | None, AFTER] = strawberry.UNSET,
    ) -> Connection[Payment]:
        page = await info.context.reads.payments_page(
            self.business_id,
            limit=page_size(first),
            starting_after=decode_cursor(given_cursor(after), "pay_"),
        )
        return Connection.of([Payment.of(p) for p in shown(info, page)], page.has_more, _node_id)

    @classmethod
    def of(cls, record: models.Business, principal: Principal) -> Business:
        role = principal.role_in(record.id)
        return cls(
            id=strawberry.ID(record.id),
            business_id=record.id,
            name=record.name,
            country=CountryCode(record.country),
            default_currency=CurrencyCode(record.default_currency),
            vat_number=record.vat_number,
            # A stranger's business never gets past Owned; VIEWER only keeps this total.
            viewer_role=Role(role.value) if role else Role.VIEWER,
        )


@strawberry.type(description="Someone a business invoices.")
class Customer(Node):
    type_name: ClassVar[str] = "Customer"
    business_id: strawberry.Private[str]
    record: strawberry.Private[models.Customer]
    name: str = strawberry.field(description="Name as shown on invoices.")
    email: str | None = strawberry.field(
        description="Email address. Not for viewers.", permission_classes=[FieldPolicy]
    )
    phone: str | None = strawberry.field(
        description="Phone number. Not for viewers.", permission_classes=[FieldPolicy]
    )
    created_at: datetime = strawberry.field(description="When the customer was added.")

    @resolved("The business this customer belongs to.", extensions=[Owned("Business")])
    async def business(self, info: Info) -> Business:
        return await _business(info, self.business_id)

    @resolved("This customer's invoices, newest first.", extensions=[Owned("Invoice")])
    async def invoices(
        self,
        info: Info,
        first: Annotated[int | None, FIRST] = 20,
        after: Annotated[str | None, AFTER] = strawberry.UNSET,
        status: Annotated[
            InvoiceStatus | None, strawberry.argument(description="Only invoices in this status.")
        ] = strawberry.UNSET,
    ) -> Connection[Invoice]:
        return await _invoice_page(
            info, self.business_id, first, after, status, strawberry.ID(self.record.id)
        )

    @classmethod
    def of(cls, record: models.Customer) -> Customer:
        return cls(
            id=strawberry.ID(record.id),
            business_id=record.business_id,
            record=record,
            name=record.name,
            email=record.email,
            phone=record.phone,
            created_at=record.created_at,
        )


# An invoice's five amounts and its lines are built from its record only when a query
# selects them: a dashboard shows two amounts and no lines of each of its 50 invoices, and
# building them all was 5.9% of its CPU (py-spy, 2026-12-04; Invoice.of 7.1 us -> 1.3 us
# in-process for an invoice of two lines). Each is a `self`-only resolver, which the
# compiled plans call straight, as they read an attribute (app/schema/executor.py).
def _lines(self: Invoice) -> list[InvoiceLine]:
    currency = self.record.currency
    return [InvoiceLine.of(line, currency) for line in self.record.lines]


def _subtotal(self: Invoice) -> Money:
    return Money.of(self.record.subtotal, self.record.currency)


def _tax(self: Invoice) -> Money:
    return Money.of(self.record.tax, self.record.currency)


def _total(self: Invoice) -> Money:
    return Money.of(self.record.total, self.record.currency)


def _amount_paid(self: Invoice) -> Money:
    return Money.of(self.record.amount_paid, self.record.currency)


def _amount_due(self: Invoice) -> Money:
    return Money.of(self.record.amount_due, self.record.currency)


@strawberry.type(description="A bill a business sends to one of its customers.")
class Invoice(Node):
    type_name: ClassVar[str] = "Invoice"
    business_id: strawberry.Private[str]
    record: strawberry.Private[models.Invoice]
    number: str = strawberry.field(description="Per-business sequence, e.g. INV-000042.")
    status: InvoiceStatus = strawberry.field(description="Draft, open, paid or void.")
    currency: CurrencyCode = strawberry.field(description="Currency of every amount on it.")
    lines: list[InvoiceLine] = strawberry.field(
        resolver=_lines, description="What is billed, in order."
    )
    tax_rate_bps: int = strawberry.field(
        description="Tax rate in basis points, 0 to 10000 (2000 = 20% VAT)."
    )
    subtotal: Money = strawberry.field(
        resolver=_subtotal,
        description='Sum of the line amounts, in major units, e.g. "1250.00".',
    )
    tax: Money = strawberry.field(
        resolver=_tax,
        description="subtotal × taxRateBps / 10000, rounded half-even to the currency's "
        'decimals, in major units, e.g. "250.00".',
    )
    total: Money = strawberry.field(
        resolver=_total, description='subtotal + tax, in major units, e.g. "1500.00".'
    )
    amount_paid: Money = strawberry.field(
        resolver=_amount_paid,
        description='Recorded payments so far, in major units, e.g. "500.00".',
    )
    amount_due: Money = strawberry.field(
        resolver=_amount_due,
        description='total − amountPaid, in major units, e.g. "1000.00".',
    )
    due_date: date = strawberry.field(description="When payment is due.")
    is_overdue: bool = strawberry.field(description="Open and past its due date.")
    created_at: datetime = strawberry.field(description="When the invoice was created.")
    updated_at: datetime = strawberry.field(description="When the invoice last changed.")
    # Set when the page this invoice is on read its children for the whole page.
    children: strawberry.Private[InvoiceChildren | None] = None

    @resolved("The business that issued the invoice.", extensions=[Owned("Business")])
    async def business(self, info: Info) -> Business:
        return await _business(info, self.business_id)

    @resolved("The customer billed.", extensions=[Owned("Customer")])
    def customer(self, info: Info) -> Customer:
        level = self.children.customers if self.children else None
        if level is None:
            return deferred(_customer_later(info, self.record))
        if isinstance(level, Exception):
            raise level
        record = level.get(self.record.id)
        if isinstance(record, Exception):
            raise record
        return Customer.of(record) if record else not_found()

    @resolved(
        "Every payment attempt for this invoice, oldest first.", extensions=[Owned("Payment")]
    )
    def payments(self, info: Info) -> list[Payment]:
        level = self.children.payments if self.children else None
        if level is None:
            return deferred(_payments_later(info, self.record))
        if isinstance(level, Exception):
            raise level
        return [Payment.of(p, self.children) for p in shown(info, level.get(self.record.id))]

    @resolved(
        _AMOUNT_PENDING,
        permission_classes=[FieldPolicy],
        reads_downstream=True,
    )
    def amount_pending(self, info: Info) -> Money | None:
        level = self.children.payments if self.children else None
        if level is None:
            return deferred(_pending_later(info, self.record))
        if isinstance(level, Exception):
            raise level
        return _pending(self.record, level.get(self.record.id))

    @classmethod
    def of(
        cls, record: models.Invoice, today: date, children: InvoiceChildren | None = None
    ) -> Invoice:
        currency = record.currency
        return cls(
            children=children,
            id=strawberry.ID(record.id),
            business_id=record.business_id,
            record=record,
            number=record.number,
            status=member_of(InvoiceStatus, record.status),
            currency=member_of(CurrencyCode, currency),
            tax_rate_bps=record.tax_rate_bps,
            due_date=record.due_date,
            is_overdue=record.status == "open" and record.due_date < today,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


@strawberry.type(description="An attempt to collect money for an invoice.")
class Payment(Node):
    type_name: ClassVar[str] = "Payment"
    business_id: strawberry.Private[str]
    record: strawberry.Private[models.Payment]
    status: PaymentStatus = strawberry.field(description="Succeeded, pending or failed.")
    amount: Money = strawberry.field(description='Amount charged, in major units, e.g. "1000.00".')
    amount_refunded: Money = strawberry.field(
        description='Refunded so far, in major units, e.g. "0.00".'
    )
    failure_code: str | None = strawberry.field(
        description="Why it failed (card_declined, insufficient_funds); null otherwise."
    )
    payment_method: PaymentMethod | None = strawberry.field(
        description="How it was paid. Not for viewers.", permission_classes=[FieldPolicy]
    )
    created_at: datetime = strawberry.field(description="When the payment was attempted.")
    children: strawberry.Private[InvoiceChildren | None] = None

    @resolved("The business paid.", extensions=[Owned("Business")])
    async def business(self, info: Info) -> Business:
        return await _business(info, self.business_id)

    @resolved("The invoice this payment is for.", extensions=[Owned("Invoice")])
    async def invoice(self, info: Info) -> Invoice:
        record = await info.context.reads.invoice_of(self.record)
        return Invoice.of(record, info.context.reads.today()) if record else not_found()

    @resolved("Refunds of this payment, oldest first.", extensions=[Owned("Refund")])
    def refunds(self, info: Info) -> list[Refund]:
        level = self.children.refunds if self.children else None
        if level is None:
            return deferred(_refunds_later(info, self.record))
        if isinstance(level, Exception):
            raise level
        return [Refund.of(r) for r in shown(info, level.get(self.record.id))]

    @classmethod
    def of(cls, record: models.Payment, children: InvoiceChildren | None = None) -> Payment:
        return cls(
            children=children,
            id=strawberry.ID(record.id),
            business_id=record.business_id,
            record=record,
            status=member_of(PaymentStatus, record.status),
            amount=Money.of(record.amount, record.currency),
            amount_refunded=Money.of(record.amount_refunded, record.currency),
            failure_code=record.failure_code,
            payment_method=PaymentMethod.of(record.payment_method),
            created_at=record.created_at,
        )


@strawberry.type(description="Money returned to the customer from a payment.")
class Refund(Node):
    type_name: ClassVar[str] = "Refund"
    business_id: strawberry.Private[str]
    record: strawberry.Private[models.Refund]
    status: PaymentStatus = strawberry.field(description="Succeeded, pending or failed.")
    amount: Money = strawberry.field(description='Amount refunded, in major units, e.g. "25.00".')
    reason: RefundReason | None = strawberry.field(description="Why, when given.")
    created_at: datetime = strawberry.field(description="When the refund was made.")

    @resolved("The payment refunded.", extensions=[Owned("Payment")])
    async def payment(self, info: Info) -> Payment:
        record = await info.context.reads.payment_of(self.record)
        return Payment.of(record) if record else not_found()

    @classmethod
    def of(cls, record: models.Refund) -> Refund:
        return cls(
            id=strawberry.ID(record.id),
            business_id=record.business_id,
            record=record,
            status=member_of(PaymentStatus, record.status),
            amount=Money.of(record.amount, record.currency),
            reason=RefundReason(record.reason) if record.reason else None,
            created_at=record.created_at,
        )


def _node_id(node: Node) -> str:
    return str(node.id)


async def _business(info: Info, business_id: str) -> Business:
    record = await info.context.reads.business(business_id)
    return Business.of(record, info.context.principal) if record else not_found()


async def _invoice_page(
    info: Info,
    business_id: str,
    first: int | None,
    after: str | None,
    status: InvoiceStatus | None,
    customer_id: strawberry.ID | None,
) -> Connection[Invoice]:
    listing = invoice_listing(
        first,
        given_cursor(after),
        status.name if status else None,
        str(customer_id) if customer_id else None,
    )
    if listing is None:
        # Not a customer id: no customer's invoices match; the listing is not asked.
        return Connection.of([], False, _node_id)
    limit, starting_after, status_name, customer = listing
    page = await info.context.reads.invoices_page(
        business_id,
        limit=limit,
        starting_after=starting_after,
        status=status_name,
        customer_id=customer,
    )
    today = info.context.reads.today()
    customers, payments, refunds = invoice_children_wanted(info)
    children = None
    if customers or payments:
        children = await info.context.reads.invoice_children(
            page.items, customers=customers, payments=payments, refunds=refunds
        )
    return Connection.of(
        [Invoice.of(i, today, children) for i in shown(info, page)], page.has_more, _node_id
    )


async def _customer_later(info: Info, invoice: models.Invoice) -> Customer:
    record = await info.context.reads.customer_of(invoice)
    return Customer.of(record) if record else not_found()


async def _pending_later(info: Info, invoice: models.Invoice) -> Money:
    return _pending(invoice, await info.context.reads.payments_of(invoice))


def _pending(
    invoice: models.Invoice, payments: Listed[models.Payment] | list[models.Payment] | None
) -> Money:
    if isinstance(payments, Listed):
        # A payment left out for breaking its contract may be one on its way: the sum
        # without it would be a wrong amount, so none is shown.
        if payments.omitted:
            raise payments.omitted[0]
        payments = payments.items
    return Money.of(holding(invoice, payments or []).total, invoice.currency)


async def _payments_later(info: Info, invoice: models.Invoice) -> list[Payment]:
    return [Payment.of(p) for p in shown(info, await info.context.reads.payments_of(invoice))]


async def _refunds_later(info: Info, payment: models.Payment) -> list[Refund]:
    return [Refund.of(r) for r in shown(info, await info.context.reads.refunds_of(payment))]
