"""Business, as the public schema shows it."""

from __future__ import annotations

import strawberry

from schema.enums import CountryCode, CurrencyCode


@strawberry.type(description="A business the caller is a member of.")
class Business:
    id: strawberry.ID = strawberry.field(description="Opaque id, e.g. `biz_...`.")
    name: str = strawberry.field(description="Trading name.")
    country: CountryCode = strawberry.field(description="Country of registration.")
    default_currency: CurrencyCode = strawberry.field(
        description="Currency new invoices use unless another is chosen."
    )
