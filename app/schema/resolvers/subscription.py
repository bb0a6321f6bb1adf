"""Root subscription fields: live updates over WebSocket (graphql-transport-ws) and SSE
(graphql-sse), from the process's event hub (app/subscriptions/).

Checked at subscribe time, before anything is held open: the token's scope for what
the field shows (FORBIDDEN naming it), then that the invoice or business is the caller's
(NOT_FOUND otherwise, exactly as an unknown id: a stranger learns nothing and never
receives an event). Checked again for every event delivered: the event must be of the
subscribed business (the hub only offers those), and the object is read as it now stands
through a fresh read service, which admits only the caller's objects; one that is not
readable is skipped (counted as dropped, `not_visible`). Field-level role and scope rules
apply to every event through the types' own guards.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Annotated, Any, TypeVar, cast

import strawberry

from app.auth import policy
from app.events.envelope import Event, EventType
from app.reads.service import ReadService
from app.schema.resolvers.context import Context
from app.schema.resolvers.outcome import outcome_updates
from app.schema.resolvers.query import to_node
from app.schema.types.events import (
    INVOICE_EVENTS,
    PAYMENT_EVENTS,
    BusinessEvent,
    DomainEventType,
    InvoiceChange,
    InvoiceUpdate,
    PaymentChange,
    PaymentUpdate,
)
from app.schema.types.field_errors import NotFoundError
from app.schema.types.guards import ScopeRequiredError
from app.schema.types.nodes import Invoice, Payment
from app.schema.types.outcome import MutationName, MutationOutcome
from app.subscriptions.live import LiveContext, LiveSession

Info = strawberry.Info[LiveContext, None]
_ALL_EVENTS = frozenset(EventType)
T = TypeVar("T")


def _subscription(*description: str) -> Callable[[Callable[..., T]], T]:
    """`@strawberry.subscription` typed for mypy (as app/schema/types/fields.py does for
    fields)."""

    def decorate(resolver: Callable[..., T]) -> T:
        field: Any = strawberry.subscription(resolver=resolver, description=" ".join(description))
        return field  # type: ignore[no-any-return]

    return decorate


def _session(info: Info, type_name: str) -> LiveSession:
    session = info.context.live
    missing = policy.missing_read_scope(session.principal, type_name)
    if missing is not None:
        raise ScopeRequiredError(missing)
    return session


def _business_of_caller(session: LiveSession, business_id: str) -> str:
    if not policy.admits(session.principal, business_id):
        raise NotFoundError
    return business_id


@strawberry.type(description="Live updates, over WebSocket (graphql-transport-ws) or SSE.")
class Subscription:
    @_subscription(
        "Each change of a payment of this invoice (pending, succeeded, failed,",
        "refunded), with the payment as it now stands. NOT_FOUND when the invoice",
        "is not the caller's; needs a scope that may read payments.",
    )
    async def payment_updated(
        self,
        info: Info,
        invoice_id: Annotated[strawberry.ID, strawberry.argument(description="The invoice.")],
    ) -> AsyncGenerator[PaymentUpdate, None]:
        session = _session(info, "Payment")
        invoice = await session.make_reads().invoice(str(invoice_id))
        if invoice is None:
            raise NotFoundError
        async for event in session.events(invoice.business_id, PAYMENT_EVENTS):
            hint = event.data.get("invoice_id")
            if isinstance(hint, str) and hint != invoice.id:
                # A payment event names its invoice: another's costs no read. (What is
                # shown is still read, and checked, below.)
                continue
            payment = await _payment_of(session.reading(), event)
            if payment is None:
                session.not_visible()
                continue
            if payment.record.invoice_id != invoice.id:
                continue  # another invoice's payment: not this subscription's
            session.delivered()
            yield PaymentUpdate(
                event_id=strawberry.ID(event.id),
                change=PaymentChange(event.type.value),
                sequence=event.sequence,
                occurred_at=event.time,
                shown=payment,
            )

    @_subscription(
        "Each change of an invoice of this business (created, finalized, paid,",
        "voided), with the invoice as it now stands. NOT_FOUND when the business",
        "is not the caller's; needs a scope that may read invoices.",
    )
    async def invoice_updated(
        self,
        info: Info,
        business_id: Annotated[strawberry.ID, strawberry.argument(description="The business.")],
    ) -> AsyncGenerator[InvoiceUpdate, None]:
        session = _session(info, "Invoice")
        business = _business_of_caller(session, str(business_id))
        async for event in session.events(business, INVOICE_EVENTS):
            reads = session.reading()
            record = await reads.invoice(event.subject)
            if record is None:
                session.not_visible()
                continue
            session.delivered()
            yield InvoiceUpdate(
                event_id=strawberry.ID(event.id),
                change=InvoiceChange(event.type.value),
                sequence=event.sequence,
                occurred_at=event.time,
                shown=Invoice.of(record, reads.today()),
            )

    @_subscription(
        "Every event of this business the token may read, with the object it",
        "happened to as it now stands. NOT_FOUND when the business is not the",
        "caller's; events of types outside the token's scopes are left out.",
    )
    async def business_events(
        self,
        info: Info,
        business_id: Annotated[strawberry.ID, strawberry.argument(description="The business.")],
    ) -> AsyncGenerator[BusinessEvent, None]:
        session = _session(info, "Business")
        business = _business_of_caller(session, str(business_id))
        async for event in session.events(business, _ALL_EVENTS):
            reads = session.reading()
            # node() reads nothing of a type the token's scopes do not reach.
            record = await reads.node(event.subject)
            shown = to_node(record, session.principal, reads.today()) if record else None
            if shown is None:
                session.not_visible()
                continue
            session.delivered()
            yield BusinessEvent(
                id=strawberry.ID(event.id),
                type=DomainEventType(event.type.value),
                subject_id=strawberry.ID(event.subject),
                sequence=event.sequence,
                occurred_at=event.time,
                shown=shown,
            )

    @_subscription(
        "Where a mutation you sent with this idempotency key stands, then each change",
        "(a step, waiting for settlement, the end), until it is completed or compensated",
        "with nothing left pending; then the stream ends. Null first while the key is",
        "not known yet (subscribe before sending, to miss nothing). Only your own keys.",
    )
    async def mutation_outcome(
        self,
        info: Info,
        mutation: Annotated[MutationName, strawberry.argument(description="The mutation.")],
        idempotency_key: Annotated[
            str, strawberry.argument(description="The key it was sent with.")
        ],
    ) -> AsyncGenerator[MutationOutcome | None, None]:
        # Each look reads the key's progress (the caller's own: the key's scope is the
        # token's subject) through a fresh read service; what it shows resolves through it.
        updates = outcome_updates(cast(Context, info.context), mutation, idempotency_key)
        async for shown in info.context.live.following(updates):
            yield shown


async def _payment_of(reads: ReadService, event: Event) -> Payment | None:
    """The payment an event is about: its subject, or the refunded one for a refund."""
    if event.type is EventType.REFUND_SUCCEEDED:
        refund = await reads.refund(event.subject)
        record = await reads.payment_of(refund) if refund else None
    else:
        record = await reads.payment(event.subject)
    return Payment.of(record) if record else None
