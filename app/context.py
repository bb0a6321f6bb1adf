"""The typed per-request context every resolver receives: the principal, the
per-request loaders behind the read service, and the services."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from starlette.requests import Request
from starlette.responses import Response

from app.clients.invoicing import InvoicingClient, InvoicingWrites
from app.clients.payments import PaymentsClient, PaymentsWrites
from app.clients.service import CallMeta, ServiceClient
from app.deadline import Deadline
from app.loaders import Loaders
from app.resources import Resources
from app.services.mutations import MutationService
from app.services.reads import ReadService
from app.telemetry.requests import RequestRecord
from auth.principal import Principal

# W3C trace context: forwarded only when well-formed (it travels in downstream headers).
_TRACEPARENT = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")


@dataclass(slots=True)
class Context:
    request: Request
    response: Response
    principal: Principal
    request_id: str
    reads: ReadService
    mutations: MutationService
    record: RequestRecord


def valid_traceparent(value: str | None) -> str | None:
    return value if value is not None and _TRACEPARENT.fullmatch(value) else None


def build_context(
    request: Request,
    response: Response,
    resources: Resources,
    principal: Principal,
    request_id: str,
    today: Callable[[], date],
    deadline: Deadline,
    record: RequestRecord,
) -> Context:
    meta = CallMeta(
        request_id=request_id,
        traceparent=record.traceparent,
        actor_id=principal.subject,
        deadline=deadline,
        tally=record.tally,
    )
    invoicing_service = ServiceClient(resources.invoicing, meta)
    payments_service = ServiceClient(resources.payments, meta)
    invoicing = InvoicingClient(invoicing_service)
    payments = PaymentsClient(payments_service)
    reads = ReadService(principal, Loaders(invoicing, payments), invoicing, payments, today)
    return Context(
        request=request,
        response=response,
        principal=principal,
        request_id=request_id,
        reads=reads,
        record=record,
        mutations=MutationService(
            principal,
            reads,
            resources.idempotency,
            resources.outbox,
            InvoicingWrites(invoicing_service),
            PaymentsWrites(payments_service),
            relay_grace=timedelta(seconds=resources.settings.relay_grace_seconds),
        ),
    )
