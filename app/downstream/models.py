"""Pydantic models of the downstream contracts' objects: exactly what the OpenAPI files
promise, no more and no less (docs/contract-audit.md lists each rule, the contract text
it comes from, and what was dropped because no contract states it).

Types are strict (no floats, no numeric strings, no booleans for integers); currencies,
statuses and `object` constants are the contracts' enums; ids are checked against a
pattern only where the contract gives one (an object's own `id`); timestamps and dates
are RFC 3339 strings; and an invoice's figures follow the arithmetic the invoicing
contract documents. Extra fields are ignored: a newer minor version may add some."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

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

# RFC 3339 section 5.6, `date-time` and `full-date`. Its ABNF is case-insensitive ("t",
# "z"); seconds go to 60 (a leap second). Anything else pydantic's lax parsing would take
# (a JSON number as Unix time, "1700000000", a date alone, no offset, a space for "T")
# breaks the contract.
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:([0-9]{2})(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _rfc3339_date_time(value: object) -> object:
    if not isinstance(value, str):
        raise PydanticCustomError("timestamp_type", "a timestamp must be an RFC 3339 string")
    shape = _DATE_TIME.fullmatch(value)
    if shape is None:
        raise PydanticCustomError("timestamp_format", "not an RFC 3339 date-time")
    if shape.group(1) == "60":
        # A leap second: Python's datetime has no second 60; it is the minute's last
        # instant, kept as :59 (with its fraction) rather than refused.
        start, end = shape.span(1)
        value = value[:start] + "59" + value[end:]
    return value


def _rfc3339_full_date(value: object) -> object:
    if not isinstance(value, str):
        raise PydanticCustomError("date_type", "a date must be an RFC 3339 full-date string")
    if _FULL_DATE.fullmatch(value) is None:
        raise PydanticCustomError("date_format", "not an RFC 3339 full-date")
    return value


def _shown_in_utc(value: datetime) -> datetime:
    # The gateway shows every timestamp in UTC; an instant whose UTC date falls outside
    # the years 1 to 9999 (0001-01-01T00:30:00+01:00) is valid RFC 3339 but cannot be
    # held, so it is refused here (a limit of the gateway, docs/contract-audit.md).
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "timestamp_range", "the instant is outside the years 1 to 9999 in UTC"
        ) from None
    return value


# The string's shape is checked first; pydantic then parses it (and refuses dates that do
# not exist, hours past 23, and the year 0000, which Python cannot hold).
Timestamp = Annotated[
    datetime,
    BeforeValidator(_rfc3339_date_time),
    Field(strict=False),
    AfterValidator(_shown_in_utc),
]
CalendarDate = Annotated[date, BeforeValidator(_rfc3339_full_date), Field(strict=False)]


class ContractModel(BaseModel):
    # Strict: "12" is not 12 and 12.0 is not 12. Extra fields are ignored so that a
    # newer downstream minor version does not break the gateway.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)
    # The prefix of the object's own id, and which field names the business it belongs
    # to: what the gateway may still read of an object that breaks the contract
    # (app/downstream/checked.py). None: the object has no id of its own (a balance).
    ID_PREFIX: ClassVar[str | None] = None
    OWNER_FIELD: ClassVar[str] = "business_id"


class Business(ContractModel):
    ID_PREFIX = "biz_"
    OWNER_FIELD = "id"

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
    ID_PREFIX = "cus_"

    id: CustomerId
    object: Literal["customer"]
    business_id: str
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
            raise PydanticCustomError("line_amount", "line amount is not quantity * unit_amount")
        return self


class Invoice(ContractModel):
    ID_PREFIX = "inv_"

    id: InvoiceId
    object: Literal["invoice"]
    business_id: str
    customer_id: str
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
    payment_ids: list[str] = Field(default_factory=list)
    created_at: Timestamp
    updated_at: Timestamp

    @model_validator(mode="after")
    def _totals_add_up(self) -> Self:
        # The arithmetic the contract documents (POST /v1/invoices). It says nothing of
        # amount_paid + amount_due, so neither does this.
        if self.subtotal != sum(line.amount for line in self.lines):
            raise PydanticCustomError("invoice_subtotal", "subtotal is not the sum of the lines")
        if self.tax != half_even_tax(self.subtotal, self.tax_rate_bps):
            raise PydanticCustomError(
                "invoice_tax", "tax is not subtotal * tax_rate_bps / 10000, half-even"
            )
        if self.total != self.subtotal + self.tax:
            raise PydanticCustomError("invoice_total", "total is not subtotal + tax")
        return self


def half_even_tax(subtotal: int, rate_bps: int) -> int:
    """subtotal * rate_bps / 10000 rounded half-to-even to a whole minor unit."""
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
    ID_PREFIX = "pay_"

    id: PaymentId
    object: Literal["payment"]
    business_id: str
    invoice_id: str
    amount: Positive
    currency: Currency
    status: Literal["succeeded", "pending", "failed"]
    failure_code: Literal["card_declined", "insufficient_funds"] | None = None
    amount_refunded: NonNegative
    payment_method: PaymentMethod
    created_at: Timestamp


class Refund(ContractModel):
    ID_PREFIX = "re_"

    id: RefundId
    object: Literal["refund"]
    business_id: str
    payment_id: str
    amount: Positive
    currency: Currency
    status: Literal["succeeded", "pending", "failed"]
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None
    created_at: Timestamp


class MoneyAmount(ContractModel):
    # Any sign: a balance can be negative (refunds larger than what is available).
    amount: int
    currency: Currency


class Balance(ContractModel):
    object: Literal["balance"]
    business_id: str
    available: list[MoneyAmount]
    pending: list[MoneyAmount]


ItemT = TypeVar("ItemT", bound=ContractModel)


class ListEnvelope(ContractModel, Generic[ItemT]):
    object: Literal["list"]
    data: list[ItemT]
    has_more: bool


class RawListEnvelope(ContractModel):
    """The list envelope with its objects unread: each is checked on its own, so that
    one object that breaks the contract does not take the others with it."""

    object: Literal["list"]
    data: list[Any]
    has_more: bool


# Anything the gateway shows as an object that belongs to one business.
OwnedRecord = Business | Customer | Invoice | Payment | Refund | Balance
