"""Enums of the public schema (names fixed by schema-core.graphql)."""

from __future__ import annotations

import enum

import strawberry


@strawberry.enum(description="ISO 4217 currency code.")
class CurrencyCode(enum.Enum):
    GBP = "GBP"
    INR = "INR"
    EUR = "EUR"
    USD = "USD"
    JPY = "JPY"
    KWD = "KWD"


@strawberry.enum(description="ISO 3166-1 alpha-2 country where a business is registered.")
class CountryCode(enum.Enum):
    GB = "GB"
    IN = "IN"


@strawberry.enum(
    description="A member's role in one business; it decides what they may see and do."
)
class Role(enum.Enum):
    OWNER = "owner"
    ADMIN = "admin"
    ACCOUNTANT = "accountant"
    VIEWER = "viewer"
