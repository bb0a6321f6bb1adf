"""Strawberry's ASGI view, told what to run instead of reading the body itself.

The endpoint reads the request once (`read_request`), decides what may run (persisted
queries, rate limits: app/admission.py) and leaves the result in the request's scope;
the view's own body parsing then returns exactly that. A request that did not go
through admission has nothing there and is refused: nothing runs unadmitted.
"""

from __future__ import annotations

from cross_web import AsyncHTTPRequestAdapter, HTTPException, StarletteRequestAdapter
from starlette.requests import Request
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData

from app.context import Context

_ADMITTED = "gateway.admitted_request"


class AdmittedRequestAdapter(StarletteRequestAdapter):
    def __init__(self, request: Request) -> None:
        super().__init__(request)
        admitted = request.scope.get(_ADMITTED)
        self.admitted = admitted if isinstance(admitted, GraphQLRequestData) else None


class GatewayView(GraphQL[Context, None]):
    request_adapter_class = AdmittedRequestAdapter

    async def read_request(self, request: Request) -> GraphQLRequestData:
        """The request's GraphQL parameters as Strawberry reads them, or HTTPException."""
        # Strawberry's own refusals (bad JSON, content type, shapes) are HTTPException.
        data = await super().parse_http_body(StarletteRequestAdapter(request))
        if isinstance(data, list):
            # Admission weighs and resolves one operation; were batching ever switched on,
            # a batch must not slip past it.
            raise HTTPException(400, "Batching is not enabled")
        return data

    @staticmethod
    def admit(request: Request, data: GraphQLRequestData) -> None:
        request.scope[_ADMITTED] = data

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        admitted = request.admitted if isinstance(request, AdmittedRequestAdapter) else None
        if admitted is None:
            raise HTTPException(400, "Request not admitted")
        return admitted
