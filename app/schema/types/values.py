"""Value types: no identity, no owner of their own; shown inside an owned object."""

from __future__ import annotations

from typing import ClassVar

import strawberry

from app.core.money import format_money, to_major_string
from app.downstream import models
from app.schema.types.enums import CurrencyCode, PaymentMethodType, member_of
from app.schema.types.fields import resolved
from app.schema.types.scalars import DecimalString


@strawberry.type(
    description=(
        'Money in major units: amount "12.50" GBP is twelve pounds fifty. amount always has '
        "exactly the currency's number of decimals (JPY 0, KWD 3, others 2)."
    )
)
class Money:
    # Kept in minor units; the decimal and localised strings are made only for the
    # fields a query selects (an invoice carries five amounts, a dashboard shows two).
    minor: strawberry.Private[int]
    currency: CurrencyCode = strawberry.field(description="ISO 4217 currency of the amount.")

    @resolved('Exact amount in major units as a decimal string, e.g. "1250.50".')
    def amount(self) -> DecimalString:
        return DecimalString(to_major_string(self.minor, self.currency.name))

    @resolved('Localised for display, e.g. "£1,250.50" or "₹12,50,000.00".')
    def formatted(self) -> str:
        return format_money(self.minor, self.currency.name)

    @classmethod
    def of(cls, minor: int, currency: str) -> Money:
        return cls(minor=minor, currency=member_of(CurrencyCode, currency))


@strawberry.type(description="One line of an invoice.")
class InvoiceLine:
    description: str = strawberry.field(description="What was sold.")
    quantity: int = strawberry.field(description="How many units, 1 to 1,000,000.")
    unit_amount: Money = strawberry.field(
        description='Price of one unit, in major units, e.g. "12.50".'
    )
    amount: Money = strawberry.field(
        description='quantity × unitAmount, in major units, e.g. "25.00".'
    )

    @classmethod
    def of(cls, line: models.InvoiceLine, currency: str) -> InvoiceLine:
        return cls(
            description=line.description,
            quantity=line.quantity,
            unit_amount=Money.of(line.unit_amount, currency),
            amount=Money.of(line.amount, currency),
        )


@strawberry.type(description="How a payment was made. Owner, admin and accountant only.")
class PaymentMethod:
    type: PaymentMethodType = strawberry.field(description="Card, UPI or bank transfer.")
    brand: str | None = strawberry.field(description="Card brand, e.g. visa; cards only.")
    last4: str | None = strawberry.field(description="Last four card digits; cards only.")
    upi_vpa: str | None = strawberry.field(description="UPI virtual payment address; UPI only.")

    @classmethod
    def of(cls, method: models.PaymentMethod) -> PaymentMethod:
        return cls(
            type=member_of(PaymentMethodType, method.type),
            brand=method.brand,
            last4=method.last4,
            upi_vpa=method.upi_vpa,
        )


@strawberry.type(description="Money held for a business by the payments service, per currency.")
class Balance:
    type_name: ClassVar[str] = "Balance"
    business_id: strawberry.Private[str]
    available: list[Money] = strawberry.field(
        description="Settled and available, one entry per currency, in major units, "
        'e.g. "21302.61".'
    )
    pending: list[Money] = strawberry.field(
        description='Not settled yet, one entry per currency, in major units, e.g. "727.53".'
    )

    @classmethod
    def of(cls, balance: models.Balance) -> Balance:
        return cls(
            business_id=balance.business_id,
            available=[Money.of(item.amount, item.currency) for item in balance.available],
            pending=[Money.of(item.amount, item.currency) for item in balance.pending],
        )


@strawberry.type(description="Where a page ends and whether another follows.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more items follow this page.")
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` to get the next page; null on an empty page."
    )
