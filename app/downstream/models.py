"""Pydantic models of the downstream contracts' objects. Every response is validated
against these before the gateway uses it: strict types (no floats, no numeric strings),
known currencies and statuses, prefixed ids, and the arithmetic the contracts promise
(line amounts, totals, amount due, refunds within the payment)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Generic, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Currency = Literal["GBP", "INR", "EUR", "USD", "JPY", "KWD"]


def _id(prefix: str) -> object:
    return StringConstraints(pattern=rf"^{prefix}_[A-Za-z0-9]{{1,32}}$")


BusinessId = Annotated[str, _id("biz")]
CustomerId = Annotated[str, _id("cus")]
InvoiceId = Annotated[str, _id("inv")]
PaymentId = Annotated[str, _id("pay")]
RefundId = Annotated[str, _id("re")]
NonNegative = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]
# Timestamps and dates arrive as strings; everything else is strict.
Timestamp = Annotated[datetime, Field(strict=False)]
CalendarDate = Annotated[date, Field(strict=False)]


class ContractModel(BaseModel):
    # Strict: "12" is not 12 and 12.0 is not 12. Extra fields are ignored so that a
    # newer downstream minor version does not break the gateway.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class Business(ContractModel):
    id: BusinessId
    object: Literal["business"]
    name: str
    country: Literal["GB", "IN"]
    default_currency: Currency
    vat_number: str | None = None
    created_at: Timestamp

    @property
    def business_id(self) -> str:
        return self.id


class Customer(ContractModel):
    id: CustomerId
    object: Literal["customer"]
    business_id: BusinessId
    name: str
    email: str | None
    phone: str | None = None
    created_at: Timestamp


class InvoiceLine(ContractModel):
    description: str
    quantity: Positive
    unit_amount: NonNegative
    amount: NonNegative

    @model_validator(mode="after")
    def _amount_is_quantity_times_unit(self) -> Self:
        if self.amount != self.quantity * self.unit_amount:
            raise ValueError("line amount is not quantity * unit_amount")
        return self


class Invoice(ContractModel):
    id: InvoiceId
    object: Literal["invoice"]
    business_id: BusinessId
    customer_id: CustomerId
    number: str
    status: Literal["draft", "open", "paid", "void"]
    currency: Currency
    lines: list[InvoiceLine]
    tax_rate_bps: Annotated[int, Field(ge=0, le=10_000)]
    subtotal: NonNegative
    tax: NonNegative
    total: NonNegative
    amount_paid: NonNegative
    amount_due: NonNegative
    due_date: CalendarDate
    payment_ids: list[PaymentId] = Field(default_factory=list)
    created_at: Timestamp
    updated_at: Timestamp

    @model_validator(mode="after")
    def _totals_add_up(self) -> Self:
        if self.subtotal != sum(line.amount for line in self.lines):
            raise ValueError("subtotal is not the sum of the lines")
        if self.tax != _half_even_tax(self.subtotal, self.tax_rate_bps):
            raise ValueError("tax is not subtotal * tax_rate_bps / 10000, half-even")
        if self.total != self.subtotal + self.tax:
            raise ValueError("total is not subtotal + tax")
        if self.amount_paid + self.amount_due != self.total:
            raise ValueError("amount_paid + amount_due is not total")
        return self


def _half_even_tax(subtotal: int, rate_bps: int) -> int:
    quotient, remainder = divmod(subtotal * rate_bps, 10_000)
    if remainder * 2 > 10_000 or (remainder * 2 == 10_000 and quotient % 2 == 1):
        quotient += 1
    return quotient


class PaymentMethod(ContractModel):
    type: Literal["card", "upi", "bank_transfer"]
    brand: str | None = None
    last4: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")] | None = None
    upi_vpa: str | None = None


class Payment(ContractModel):
    id: PaymentId
    object: Literal["payment"]
    business_id: BusinessId
    invoice_id: InvoiceId
    amount: Positive
    currency: Currency
    status: Literal["succeeded", "pending", "failed"]
    failure_code: Literal["card_declined", "insufficient_funds"] | None = None
    amount_refunded: NonNegative
    payment_method: PaymentMethod
    created_at: Timestamp

    @model_validator(mode="after")
    def _refunds_within_amount(self) -> Self:
        if self.amount_refunded > self.amount:
            raise ValueError("amount_refunded exceeds amount")
        return self


class Refund(ContractModel):
    id: RefundId
    object: Literal["refund"]
    business_id: BusinessId
    payment_id: PaymentId
    amount: Positive
    currency: Currency
    status: Literal["succeeded", "pending", "failed"]
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None
    created_at: Timestamp


class MoneyAmount(ContractModel):
    amount: int
    currency: Currency


class Balance(ContractModel):
    object: Literal["balance"]
    business_id: BusinessId
    available: list[MoneyAmount]
    pending: list[MoneyAmount]


ItemT = TypeVar("ItemT", bound=ContractModel)


class ListEnvelope(ContractModel, Generic[ItemT]):
    object: Literal["list"]
    data: list[ItemT]
    has_more: bool


# Anything the gateway shows as an object that belongs to one business.
OwnedRecord = Business | Customer | Invoice | Payment | Refund | Balance
