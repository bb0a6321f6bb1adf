"""The caller, as the public schema shows them."""

from __future__ import annotations

import strawberry

from app.downstream import models
from app.schema.types.enums import Role
from app.schema.types.fields import resolved
from app.schema.types.guards import Owned
from app.schema.types.nodes import Business
from app.schema.types.ports import SchemaContext
from app.schema.types.reported import shown

Info = strawberry.Info[SchemaContext, None]


@strawberry.type(description="The caller's role in one business.")
class Membership:
    role: Role = strawberry.field(description="What the caller may see and do in this business.")
    record: strawberry.Private[models.Business]

    @resolved("The business.", extensions=[Owned("Business")])
    async def business(self, info: Info) -> Business:
        return Business.of(self.record, info.context.principal)


@strawberry.type(description="The authenticated caller.")
class Viewer:
    id: strawberry.ID = strawberry.field(description="The token's subject.")

    @resolved(
        "Businesses the caller belongs to, with their role in each, in the token's order. "
        "A business the invoicing service does not know is left out."
    )
    async def memberships(self, info: Info) -> list[Membership]:
        principal = info.context.principal
        found = await info.context.reads.businesses(list(principal.memberships))
        return [
            Membership(role=Role(principal.memberships[record.id].value), record=record)
            for record in shown(info, found)
        ]
