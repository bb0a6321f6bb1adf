"""Mutation inputs and payloads (names fixed by schema-core.graphql).

Business failures come back as `userErrors`, never as top-level errors. Payload objects
carry the same ownership guard as every other edge: a replayed payload never shows an
object of a business the caller has since lost.
"""

from __future__ import annotations

import enum
from datetime import date

import strawberry

from app.downstream import models
from app.schema.types.enums import CurrencyCode, RefundReason
from app.schema.types.fields import resolved
from app.schema.types.guards import Owned
from app.schema.types.nodes import Customer, Invoice, Payment, Refund
from app.schema.types.ports import SchemaContext
from app.schema.types.scalars import DecimalString

Info = strawberry.Info[SchemaContext, None]

KEY_DESCRIPTION = (
    "Client-chosen key, 1 to 255 printable ASCII characters (no spaces). Send the same key "
    "to retry safely: the same input is done once and its result replayed."
)


@strawberry.input(
    description='An amount of money in major units: {amount: "12.50", currency: GBP} is twelve '
    "pounds fifty."
)
class MoneyInput:
    amount: DecimalString = strawberry.field(
        description="Major units; at most the currency's number of decimals; must be greater "
        'than zero. A plain decimal string such as "12.50" (no exponent, sign or spaces).'
    )
    currency: CurrencyCode = strawberry.field(description="ISO 4217 currency of the amount.")


@strawberry.enum(description="Why a mutation did not do what was asked.")
class UserErrorCode(enum.Enum):
    INVALID_INPUT = strawberry.enum_value(
        "INVALID_INPUT", description="The input is malformed; see field."
    )
    NOT_FOUND = strawberry.enum_value("NOT_FOUND", description="No such object for this caller.")
    FORBIDDEN = strawberry.enum_value(
        "FORBIDDEN", description="The role or token scope does not allow it."
    )
    INVALID_STATE = strawberry.enum_value(
        "INVALID_STATE",
        description=" ".join(
            [
                "The object's state does not allow it (paying a draft, voiding a paid",
                "invoice, finalizing an invoice whose total is zero). The message names the",
                "state the object is in and the states that would allow it (not to a token",
                "that may not read the object).",
            ]
        ),
    )
    AMOUNT_EXCEEDS_DUE = strawberry.enum_value(
        "AMOUNT_EXCEEDS_DUE", description="More than the invoice's amount due."
    )
    AMOUNT_EXCEEDS_REFUNDABLE = strawberry.enum_value(
        "AMOUNT_EXCEEDS_REFUNDABLE", description="More than what is left to refund."
    )
    CURRENCY_MISMATCH = strawberry.enum_value(
        "CURRENCY_MISMATCH", description="Not the object's currency."
    )
    PAYMENT_DECLINED = strawberry.enum_value(
        "PAYMENT_DECLINED", description="The payment method was declined."
    )
    INSUFFICIENT_FUNDS = strawberry.enum_value(
        "INSUFFICIENT_FUNDS", description="Not enough funds."
    )
    PAYMENT_IN_PROGRESS = strawberry.enum_value(
        "PAYMENT_IN_PROGRESS",
        description="Another payment for this invoice is running; retry shortly.",
    )
    PAYMENT_PENDING = strawberry.enum_value(
        "PAYMENT_PENDING",
        description="Money for this invoice is on its way (a payment not yet settled or "
        "recorded): payInvoice may charge only amountDue − amountPending, and voidInvoice "
        "waits until it settles or fails. The message names the amounts.",
    )
    IDEMPOTENCY_KEY_REUSED = strawberry.enum_value(
        "IDEMPOTENCY_KEY_REUSED",
        description="This key was used with different input; use a new key.",
    )
    IDEMPOTENCY_KEY_IN_USE = strawberry.enum_value(
        "IDEMPOTENCY_KEY_IN_USE", description="A request with this key is running; retry shortly."
    )
    DOWNSTREAM_UNAVAILABLE = strawberry.enum_value(
        "DOWNSTREAM_UNAVAILABLE",
        description="A service is unavailable; nothing is lost. Retry with the same key.",
    )
    DOWNSTREAM_INVALID_RESPONSE = strawberry.enum_value(
        "DOWNSTREAM_INVALID_RESPONSE",
        description="A service answered in breach of its contract; nothing was done.",
    )


@strawberry.type(description="A business failure of a mutation, with the input field at fault.")
class UserError:
    code: UserErrorCode = strawberry.field(description="Stable, machine-readable reason.")
    message: str = strawberry.field(description="For people; wording may change.")
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["input", "amount", "amount"].'
    )


@strawberry.input(description="A new customer of one of the caller's businesses.")
class CreateCustomerInput:
    idempotency_key: str = strawberry.field(description=KEY_DESCRIPTION)
    business_id: strawberry.ID = strawberry.field(description="The business.")
    name: str = strawberry.field(description="1 to 200 characters.")
    email: str | None = strawberry.field(default=None, description="Email address, optional.")
    phone: str | None = strawberry.field(default=None, description="Phone number, optional.")


@strawberry.input(description="One line of a new invoice.")
class InvoiceLineInput:
    description: str = strawberry.field(description="What is sold, 1 to 500 characters.")
    quantity: int = strawberry.field(description="1 to 1,000,000.")
    unit_amount: DecimalString = strawberry.field(
        description='Price of one unit in major units, e.g. "12.50"; zero allowed, negative not.'
    )


@strawberry.input(description="A new draft invoice.")
class CreateInvoiceInput:
    idempotency_key: str = strawberry.field(description=KEY_DESCRIPTION)
    business_id: strawberry.ID = strawberry.field(description="The business issuing it.")
    customer_id: strawberry.ID = strawberry.field(description="A customer of that business.")
    currency: CurrencyCode = strawberry.field(description="Currency of every amount on it.")
    due_date: date = strawberry.field(
        description=" ".join(
            [
                "When payment is due: from 30 days before today to 730 days after (today",
                "as the gateway's calendar date, UTC). Outside that window, INVALID_INPUT at",
                "this field.",
            ]
        )
    )
    tax_rate_bps: int | None = strawberry.field(
        default=0, description="Basis points, 0 to 10000 (2000 = 20% VAT)."
    )
    lines: list[InvoiceLineInput] = strawberry.field(description="1 to 100 lines.")


@strawberry.input(description="Move a draft invoice to open.")
class FinalizeInvoiceInput:
    idempotency_key: str = strawberry.field(description=KEY_DESCRIPTION)
    invoice_id: strawberry.ID = strawberry.field(
        description="A draft invoice whose total is above zero."
    )


@strawberry.input(
    description="Cancel a draft or open invoice that has no recorded payment and no payment on "
    "its way (PAYMENT_PENDING)."
)
class VoidInvoiceInput:
    idempotency_key: str = strawberry.field(description=KEY_DESCRIPTION)
    invoice_id: strawberry.ID = strawberry.field(description="The invoice.")


@strawberry.input(description="Charge a payment method for an open invoice.")
class PayInvoiceInput:
    idempotency_key: str = strawberry.field(description=KEY_DESCRIPTION)
    invoice_id: strawberry.ID = strawberry.field(description="An open invoice.")
    amount: MoneyInput | None = strawberry.field(
        default=None,
        description="Defaults to what can still be charged: the invoice's amountDue less its "
        "amountPending (payments on their way); never more than that (PAYMENT_PENDING). In "
        'major units, e.g. {amount: "12.50", currency: GBP}.',
    )
    payment_method: str = strawberry.field(description="A payment method token, e.g. pm_card_ok.")


@strawberry.input(description="Refund all or part of a succeeded payment.")
class RefundPaymentInput:
    idempotency_key: str = strawberry.field(description=KEY_DESCRIPTION)
    payment_id: strawberry.ID = strawberry.field(description="A succeeded payment.")
    amount: MoneyInput | None = strawberry.field(
        default=None,
        description="Defaults to everything not yet refunded. In major units, e.g. "
        '{amount: "5.00", currency: GBP}.',
    )
    reason: RefundReason | None = strawberry.field(default=None, description="Why, optional.")


def _errors_field() -> list[UserError]:
    return strawberry.field(description="Empty when the mutation did what was asked.")  # type: ignore[no-any-return]


def _replayed_field() -> bool:
    return strawberry.field(  # type: ignore[no-any-return]
        description=(
            "True when this is the stored result of an earlier call with the same key and input."
        )
    )


@strawberry.type(description="Result of createCustomer.")
class CreateCustomerPayload:
    record: strawberry.Private[models.Customer | None]
    user_errors: list[UserError] = _errors_field()
    replayed: bool = _replayed_field()

    @resolved("The new customer; null on failure.", extensions=[Owned.in_payload("Customer")])
    async def customer(self, info: Info) -> Customer | None:
        return Customer.of(self.record) if self.record else None


@strawberry.type(description="Result of createInvoice.")
class CreateInvoicePayload:
    record: strawberry.Private[models.Invoice | None]
    user_errors: list[UserError] = _errors_field()
    replayed: bool = _replayed_field()

    @resolved(
        "The new draft invoice; null on failure.",
        extensions=[Owned.in_payload("Invoice")],
    )
    async def invoice(self, info: Info) -> Invoice | None:
        return Invoice.of(self.record, info.context.reads.today()) if self.record else None


@strawberry.type(description="Result of finalizeInvoice.")
class FinalizeInvoicePayload:
    record: strawberry.Private[models.Invoice | None]
    user_errors: list[UserError] = _errors_field()
    replayed: bool = _replayed_field()

    @resolved(
        "The invoice, now open; null on failure.",
        extensions=[Owned.in_payload("Invoice")],
    )
    async def invoice(self, info: Info) -> Invoice | None:
        return Invoice.of(self.record, info.context.reads.today()) if self.record else None


@strawberry.type(description="Result of voidInvoice.")
class VoidInvoicePayload:
    record: strawberry.Private[models.Invoice | None]
    user_errors: list[UserError] = _errors_field()
    replayed: bool = _replayed_field()

    @resolved(
        "The invoice, now void; null on failure.",
        extensions=[Owned.in_payload("Invoice")],
    )
    async def invoice(self, info: Info) -> Invoice | None:
        return Invoice.of(self.record, info.context.reads.today()) if self.record else None


@strawberry.type(description="Result of payInvoice.")
class PayInvoicePayload:
    payment_record: strawberry.Private[models.Payment | None]
    invoice_record: strawberry.Private[models.Invoice | None]
    user_errors: list[UserError] = _errors_field()
    replayed: bool = _replayed_field()

    @resolved(
        "The payment, whatever its outcome (succeeded, pending, or failed when declined).",
        extensions=[Owned.in_payload("Payment")],
    )
    async def payment(self, info: Info) -> Payment | None:
        return Payment.of(self.payment_record) if self.payment_record else None

    @resolved(
        " ".join(
            [
                "The invoice as it now stands whenever the outcome is known: paid, pending,",
                "declined, refused for its state or amounts, another payment in progress, and",
                "on a replay (read again). Null when nothing ran (INVALID_INPUT,",
                "IDEMPOTENCY_KEY_REUSED, IDEMPOTENCY_KEY_IN_USE), for NOT_FOUND and FORBIDDEN,",
                "and while the outcome is unknown (DOWNSTREAM_UNAVAILABLE,",
                "DOWNSTREAM_INVALID_RESPONSE): retry with the same key. A replay whose",
                "invoice cannot be read now shows none, never a stored copy that may be stale.",
            ]
        ),
        extensions=[Owned.in_payload("Invoice")],
    )
    async def invoice(self, info: Info) -> Invoice | None:
        record = self.invoice_record
        return Invoice.of(record, info.context.reads.today()) if record else None


@strawberry.type(description="Result of refundPayment.")
class RefundPaymentPayload:
    refund_record: strawberry.Private[models.Refund | None]
    payment_record: strawberry.Private[models.Payment | None]
    user_errors: list[UserError] = _errors_field()
    replayed: bool = _replayed_field()

    @resolved("The refund; null on failure.", extensions=[Owned.in_payload("Refund")])
    async def refund(self, info: Info) -> Refund | None:
        return Refund.of(self.refund_record) if self.refund_record else None

    @resolved("The payment after the refund.", extensions=[Owned.in_payload("Payment")])
    async def payment(self, info: Info) -> Payment | None:
        return Payment.of(self.payment_record) if self.payment_record else None
