"""A request's typed context, whose read and write services are built only when a
resolver first asks for them (app/schema/resolvers/context.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from starlette.requests import Request
from starlette.responses import Response

from app.auth.principal import Principal
from app.core.deadline import Deadline
from app.downstream.invoicing import InvoicingClient, InvoicingWrites
from app.downstream.payments import PaymentsClient, PaymentsWrites
from app.downstream.service import CallMeta, ServiceClient
from app.mutations.service import MutationService
from app.reads.loaders import Loaders
from app.reads.service import ReadService
from app.schema.resolvers.context import Context
from app.telemetry.requests import RequestRecord
from app.wiring.resources import Resources


def build_context(
    request: Request,
    response: Response,
    resources: Resources,
    principal: Principal,
    request_id: str,
    today: Callable[[], date],
    deadline: Deadline,
    record: RequestRecord,
    *,
    whole_page_children: bool = True,
    share_reads: bool = False,
) -> Context:
    """`share_reads`: the request runs queries only, so its reads may share identical ones
    in flight for other requests (app/downstream/coalesce.py); a mutation's never do."""
    meta = CallMeta(
        request_id=request_id,
        traceparent=record.traceparent,
        actor_id=principal.subject,
        deadline=deadline,
        tally=record.tally,
    )

    def make_reads() -> ReadService:
        invoicing = InvoicingClient(
            ServiceClient(resources.invoicing, meta, share_reads=share_reads)
        )
        payments = PaymentsClient(ServiceClient(resources.payments, meta, share_reads=share_reads))
        return ReadService(
            principal,
            Loaders(invoicing, payments),
            invoicing,
            payments,
            today,
            whole_page_children=whole_page_children,
        )

    def make_mutations(reads: ReadService) -> MutationService:
        return MutationService(
            principal,
            reads,
            resources.regions,
            resources.jurisdictions,
            InvoicingWrites(ServiceClient(resources.invoicing, meta)),
            PaymentsWrites(ServiceClient(resources.payments, meta)),
            relay_grace=timedelta(seconds=resources.settings.relay_grace_seconds),
            first_settlement_check=timedelta(seconds=resources.settings.settlement_poll_seconds),
        )

    return Context(
        request=request,
        response=response,
        principal=principal,
        request_id=request_id,
        record=record,
        make_reads=make_reads,
        make_mutations=make_mutations,
    )
