"""Request bodies of the payments contract (PaymentCreate, RefundCreate)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from sandbox.common.validation import StrictBody

Currency = Literal["GBP", "INR", "EUR", "USD", "JPY", "KWD"]
MAX_AMOUNT = 100_000_000_000


class PaymentCreate(StrictBody):
    business_id: Annotated[str, Field(pattern=r"^biz_[A-Za-z0-9]{1,32}$")]
    invoice_id: Annotated[str, Field(pattern=r"^inv_[A-Za-z0-9]{1,32}$")]
    amount: Annotated[int, Field(ge=1, le=MAX_AMOUNT)]
    currency: Currency
    payment_method: Annotated[str, Field(min_length=1, max_length=64)]


class RefundCreate(StrictBody):
    amount: Annotated[int, Field(ge=1, le=MAX_AMOUNT)]
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None
