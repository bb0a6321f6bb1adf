"""Enums of the public schema (names fixed by schema-core.graphql)."""

from __future__ import annotations

import enum
from typing import TypeVar, cast

import strawberry

E = TypeVar("E", bound=enum.Enum)

_BY_VALUE: dict[type[enum.Enum], dict[object, enum.Enum]] = {}


def member_of(kind: type[E], value: object) -> E:
    """The member of `kind` with this value. An enum's call (EnumMeta.__call__) costs ten
    times a dict lookup, and a dashboard converts hundreds of values (measured
    in-process: Money.of 6.6 us -> 3.2 us on a loaded 2-core machine). A value not
    listed goes through the call, which refuses it."""
    members = _BY_VALUE.get(kind)
    if members is None:
        members = _BY_VALUE[kind] = {member.value: member for member in kind}
    found = members.get(value)
    return cast(E, found) if found is not None else kind(value)


@strawberry.enum(description="ISO 4217 currency code.")
class CurrencyCode(enum.Enum):
    GBP = strawberry.enum_value("GBP", description="Pound sterling; 2 decimals.")
    INR = strawberry.enum_value("INR", description="Indian rupee; 2 decimals.")
    EUR = strawberry.enum_value("EUR", description="Euro; 2 decimals.")
    USD = strawberry.enum_value("USD", description="US dollar; 2 decimals.")
    JPY = strawberry.enum_value("JPY", description="Japanese yen; no decimals.")
    KWD = strawberry.enum_value("KWD", description="Kuwaiti dinar; 3 decimals.")


@strawberry.enum(description="ISO 3166-1 alpha-2 country where a business is registered.")
class CountryCode(enum.Enum):
    GB = strawberry.enum_value("GB", description="United Kingdom.")
    IN = strawberry.enum_value("IN", description="India.")


@strawberry.enum(
    description="A member's role in one business; it decides what they may see and do."
)
class Role(enum.Enum):
    OWNER = strawberry.enum_value("owner", description="Everything, including voids and refunds.")
    ADMIN = strawberry.enum_value("admin", description="Everything, including voids and refunds.")
    ACCOUNTANT = strawberry.enum_value(
        "accountant", description="Reads everything; creates and collects, but no voids or refunds."
    )
    VIEWER = strawberry.enum_value(
        "viewer", description="Reads names, invoices and payment amounts; no contact details."
    )


@strawberry.enum(description="Where an invoice is in its life.")
class InvoiceStatus(enum.Enum):
    DRAFT = strawberry.enum_value("draft", description="Being prepared; not yet sent or payable.")
    OPEN = strawberry.enum_value("open", description="Finalized and awaiting payment.")
    PAID = strawberry.enum_value("paid", description="Paid in full.")
    VOID = strawberry.enum_value("void", description="Cancelled; nothing is owed.")


@strawberry.enum(description="Outcome of a payment or refund.")
class PaymentStatus(enum.Enum):
    SUCCEEDED = strawberry.enum_value("succeeded", description="The money moved.")
    PENDING = strawberry.enum_value("pending", description="Not settled yet (e.g. bank transfer).")
    FAILED = strawberry.enum_value("failed", description="Nothing moved; see failureCode.")


@strawberry.enum(description="How a payment was made.")
class PaymentMethodType(enum.Enum):
    CARD = strawberry.enum_value("card", description="Debit or credit card.")
    UPI = strawberry.enum_value("upi", description="India's Unified Payments Interface.")
    BANK_TRANSFER = strawberry.enum_value(
        "bank_transfer", description="Bank transfer; settles later."
    )


@strawberry.enum(description="Why a payment was refunded.")
class RefundReason(enum.Enum):
    DUPLICATE = strawberry.enum_value("duplicate", description="The customer was charged twice.")
    FRAUDULENT = strawberry.enum_value("fraudulent", description="The charge was not authorised.")
    REQUESTED_BY_CUSTOMER = strawberry.enum_value(
        "requested_by_customer", description="The customer asked for their money back."
    )
