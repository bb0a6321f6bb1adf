"""The typed per-request context every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from app.clients.invoicing import InvoicingClient
from app.clients.service import CallMeta, ServiceClient
from app.resources import Resources
from app.services.viewer import ViewerService
from auth.principal import Principal


@dataclass(slots=True)
class Services:
    viewer: ViewerService


@dataclass(slots=True)
class Context:
    request: Request
    response: Response
    principal: Principal
    request_id: str
    services: Services


def build_context(
    request: Request,
    response: Response,
    resources: Resources,
    principal: Principal,
    request_id: str,
) -> Context:
    meta = CallMeta(
        request_id=request_id,
        traceparent=request.headers.get("traceparent"),
        actor_id=principal.subject,
    )
    invoicing = InvoicingClient(ServiceClient("invoicing", resources.invoicing_http, meta))
    return Context(
        request=request,
        response=response,
        principal=principal,
        request_id=request_id,
        services=Services(viewer=ViewerService(principal, invoicing)),
    )
