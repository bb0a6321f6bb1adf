"""The caller, as the public schema shows them."""

from __future__ import annotations

import strawberry

from schema.business import Business
from schema.enums import Role


@strawberry.type(description="The caller's role in one business.")
class Membership:
    role: Role = strawberry.field(description="What the caller may do in this business.")
    business: Business = strawberry.field(description="The business.")


@strawberry.type(description="The authenticated caller.")
class Viewer:
    id: strawberry.ID = strawberry.field(description="The token's subject.")
    memberships: list[Membership] = strawberry.field(
        description="Businesses the caller belongs to, with their role in each."
    )
