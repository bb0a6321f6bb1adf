"""Root query fields: parse, call one service, map the result."""

from __future__ import annotations

import strawberry

from app.context import Context
from resolvers.mapping import to_business, to_role
from schema.viewer import Membership, Viewer


async def resolve_viewer(info: strawberry.Info[Context, None]) -> Viewer:
    memberships = await info.context.services.viewer.memberships()
    return Viewer(
        id=strawberry.ID(info.context.principal.subject),
        memberships=[
            Membership(role=to_role(item.role), business=to_business(item.business))
            for item in memberships
        ],
    )


@strawberry.type(description="Entry points for reading.")
class Query:
    viewer: Viewer = strawberry.field(
        resolver=resolve_viewer, description="The authenticated caller and their memberships."
    )
