"""Root query fields: parse, call the read service, map the result."""

from __future__ import annotations

from datetime import date
from typing import Annotated, cast

import strawberry

from app.auth.principal import Principal
from app.downstream import models
from app.schema.resolvers.context import Context
from app.schema.resolvers.outcome import current_outcome
from app.schema.types.field_errors import BadUserInputError
from app.schema.types.fields import resolved
from app.schema.types.guards import Owned
from app.schema.types.nodes import Business, Customer, Invoice, Node, Payment, Refund
from app.schema.types.outcome import MutationName, MutationOutcome
from app.schema.types.pagination import MAX_NODES
from app.schema.types.prefetch import business_children
from app.schema.types.viewer import Viewer

Info = strawberry.Info[Context, None]


def _id_argument(what: str) -> object:
    return strawberry.argument(description=f"The {what}'s id.")


@strawberry.type(description="Entry points for reading.")
class Query:
    @resolved(
        " ".join(
            [
                "Where a mutation you sent with this idempotency key stands, without sending",
                "it again: for an app that lost the answer. Only your own keys (another",
                "user's key of the same text is another key); null when you have none such,",
                "or it expired (24 hours after it finished).",
            ]
        ),
        reads_downstream=True,
    )
    async def mutation_outcome(
        self,
        info: Info,
        mutation: Annotated[MutationName, strawberry.argument(description="The mutation.")],
        idempotency_key: Annotated[
            str, strawberry.argument(description="The key it was sent with.")
        ],
    ) -> MutationOutcome | None:
        shown, _ = await current_outcome(info.context, mutation, idempotency_key)
        return shown

    @resolved("The authenticated caller and their memberships.")
    def viewer(self, info: Info) -> Viewer:
        return Viewer(id=strawberry.ID(info.context.principal.subject))

    @resolved(
        "Any object by id; null with NOT_FOUND when unknown or not the caller's.",
        extensions=[Owned("Node")],
    )
    async def node(
        self, info: Info, id: Annotated[strawberry.ID, _id_argument("object")]
    ) -> Node | None:
        record = await info.context.reads.node(str(id))
        return (
            to_node(record, info.context.principal, info.context.reads.today()) if record else None
        )

    @resolved(
        "One entry per id, in order; null where the id is unknown or not the caller's. "
        "At most 100 ids.",
        extensions=[Owned("Node", missing_is_error=False, keep_positions=True)],
    )
    async def nodes(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], strawberry.argument(description="1 to 100 ids.")],
    ) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise BadUserInputError(f"nodes takes at most {MAX_NODES} ids.")
        principal, today = info.context.principal, info.context.reads.today()
        records = await info.context.reads.nodes([str(node_id) for node_id in ids])
        # An object of the caller's that broke its contract is its error, at its position:
        # graphql-core raises an exception found in a list at that item's path.
        return [
            cast(Node, record)
            if isinstance(record, Exception)
            else to_node(record, principal, today)
            if record
            else None
            for record in records
        ]

    @resolved("A business the caller is a member of.", extensions=[Owned("Business")])
    async def business(
        self, info: Info, id: Annotated[strawberry.ID, _id_argument("business")]
    ) -> Business | None:
        # The balance and the invoice page go downstream with the business, not after it.
        business_children(info, str(id))
        record = await info.context.reads.business(str(id))
        return Business.of(record, info.context.principal) if record else None

    @resolved("A customer of one of the caller's businesses.", extensions=[Owned("Customer")])
    async def customer(
        self, info: Info, id: Annotated[strawberry.ID, _id_argument("customer")]
    ) -> Customer | None:
        record = await info.context.reads.customer(str(id))
        return Customer.of(record) if record else None

    @resolved("An invoice of one of the caller's businesses.", extensions=[Owned("Invoice")])
    async def invoice(
        self, info: Info, id: Annotated[strawberry.ID, _id_argument("invoice")]
    ) -> Invoice | None:
        record = await info.context.reads.invoice(str(id))
        return Invoice.of(record, info.context.reads.today()) if record else None

    @resolved("A payment of one of the caller's businesses.", extensions=[Owned("Payment")])
    async def payment(
        self, info: Info, id: Annotated[strawberry.ID, _id_argument("payment")]
    ) -> Payment | None:
        record = await info.context.reads.payment(str(id))
        return Payment.of(record) if record else None


def to_node(
    record: models.OwnedRecord, principal: Principal, today: date
) -> Business | Customer | Invoice | Payment | Refund | None:
    """The schema object for any record `node`/`nodes` may return."""
    if isinstance(record, models.Business):
        return Business.of(record, principal)
    if isinstance(record, models.Customer):
        return Customer.of(record)
    if isinstance(record, models.Invoice):
        return Invoice.of(record, today)
    if isinstance(record, models.Payment):
        return Payment.of(record)
    if isinstance(record, models.Refund):
        return Refund.of(record)
    return None
