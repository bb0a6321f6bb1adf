"""Request bodies of the invoicing contract (CustomerCreate, InvoiceCreate, ...)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from sandbox.common.validation import StrictBody

Currency = Literal["GBP", "INR", "EUR", "USD", "JPY", "KWD"]
BusinessId = Annotated[str, Field(pattern=r"^biz_[A-Za-z0-9]{1,32}$")]
CustomerId = Annotated[str, Field(pattern=r"^cus_[A-Za-z0-9]{1,32}$")]
PaymentId = Annotated[str, Field(pattern=r"^pay_[A-Za-z0-9]{1,32}$")]


class CustomerCreate(StrictBody):
    business_id: BusinessId
    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: Annotated[str, Field(max_length=254)] | None = None
    phone: Annotated[str, Field(max_length=32)] | None = None


class InvoiceLineCreate(StrictBody):
    description: Annotated[str, Field(min_length=1, max_length=500)]
    quantity: Annotated[int, Field(ge=1, le=1_000_000)]
    unit_amount: Annotated[int, Field(ge=0, le=100_000_000_000)]


class InvoiceCreate(StrictBody):
    business_id: BusinessId
    customer_id: CustomerId
    currency: Currency
    due_date: date
    tax_rate_bps: Annotated[int, Field(ge=0, le=10_000)] = 0
    lines: Annotated[list[InvoiceLineCreate], Field(min_length=1, max_length=100)]


class InvoicePaymentRecord(StrictBody):
    payment_id: PaymentId
    amount: Annotated[int, Field(ge=1)]
    currency: Currency
