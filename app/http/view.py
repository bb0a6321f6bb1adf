"""Strawberry's ASGI view, told what to run instead of reading the body itself.

The endpoint reads the request once (`read_request`), decides what may run (persisted
queries, rate limits: app/http/admission.py) and hands the result to the view as a
value, an `AdmittedRequest`; the view's own body parsing then returns exactly that. A
request that did not go through admission carries nothing and is refused: nothing runs
unadmitted.

The body's shape is checked as it is decoded. Strawberry trusts it in places: a JSON
body that is not an object, a batch item that is not one, a non-string `operationName`
or a body nested too deeply for Python's JSON decoder would each surface as an
unhandled exception (HTTP 500). Here each is a 400 naming the problem, coded
BAD_REQUEST (app/http/refusal.py). The body has passed BodySizeLimit and JsonBodiesOnly
(app/http/).

Strawberry's own refusals while choosing the operation are coded too: an
`operationName` the document does not define is OPERATION_RESOLUTION_FAILURE (the name
Apollo's clients know), a request without a document BAD_REQUEST.
"""

from __future__ import annotations

import json

from cross_web import AsyncHTTPRequestAdapter, HTTPException, StarletteRequestAdapter
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema.exceptions import (
    CannotGetOperationTypeError,
    InvalidOperationTypeError,
)
from strawberry.types import ExecutionResult

from app.http.answer_json import AnswerJson
from app.http.refusal import Refused
from app.schema.resolvers.context import Context

_OPTIONAL_TYPES: dict[str, tuple[type, ...]] = {
    "query": (str,),
    "operationName": (str,),
    "variables": (dict,),
    "extensions": (dict,),
}
Admitted = GraphQLRequestData | list[GraphQLRequestData]


def request_problem(body: object, *, max_batch: int) -> str | None:
    """Why `body` is not a GraphQL request (or, when batching is on, a batch), or None."""
    if isinstance(body, list):
        if max_batch == 0:
            return "Batching is not enabled"
        if not 1 <= len(body) <= max_batch:
            return f"A batch holds 1 to {max_batch} operations."
        problems = (_operation_problem(item) for item in body)
        return next((problem for problem in problems if problem), None)
    return _operation_problem(body)


def _operation_problem(item: object) -> str | None:
    if not isinstance(item, dict):
        return "A GraphQL request is a JSON object."
    for key, types in _OPTIONAL_TYPES.items():
        value = item.get(key)
        if value is not None and not isinstance(value, types):
            expected = "a string" if types == (str,) else "an object"
            return f"`{key}` must be {expected} or null."
    return None


class AdmittedRequest(Request):
    """A request with what admission decided it may run, and the response its context
    writes headers to (the one the view answers with)."""

    def __init__(self, request: Request, admitted: Admitted, sub_response: Response) -> None:
        super().__init__(request.scope, request.receive)
        self.admitted = admitted
        self.sub_response = sub_response


class AdmittedRequestAdapter(StarletteRequestAdapter):
    def __init__(self, request: Request) -> None:
        super().__init__(request)
        self.admitted: Admitted | None = (
            request.admitted if isinstance(request, AdmittedRequest) else None
        )


class GatewayView(GraphQL[Context, None]):
    request_adapter_class = AdmittedRequestAdapter
    _answer_json: AnswerJson | None = None

    def encode_json(self, data: object) -> str | bytes:
        # Strawberry's bytes, written by orjson where they are the same (answer_json.py).
        encode = self._answer_json
        if encode is None:
            graphql_schema = getattr(self.schema, "_schema", None)
            type_map = getattr(graphql_schema, "type_map", {"Float": None})
            encode = self._answer_json = AnswerJson(floats_possible="Float" in type_map)
        return encode(data)

    def decode_json(self, data: str | bytes) -> object:
        try:
            # Strictly UTF-8 (RFC 8259): json.loads would guess UTF-16 and let encoded
            # surrogates through.
            body = json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
        except RecursionError:
            raise Refused(400, "The request body is nested too deeply.", "BAD_REQUEST") from None
        except UnicodeDecodeError:
            # Before ValueError, its base: Strawberry alone answered it with a 500.
            raise Refused(400, "The request body is not valid UTF-8.", "BAD_REQUEST") from None
        except ValueError:
            raise Refused(400, "The request body is not valid JSON.", "BAD_REQUEST") from None
        config = self.schema.config.batching_config
        problem = request_problem(body, max_batch=config["max_operations"] if config else 0)
        if problem is not None:
            raise Refused(400, problem, "BAD_REQUEST")
        return body

    async def read_request(self, request: Request) -> Admitted:
        """The request's GraphQL parameters (a list for a batch, when batching is on) as
        Strawberry reads them from the body, or HTTPException."""
        # Strawberry's own refusals (bad JSON, content type, shapes) are HTTPException.
        return await super().parse_http_body(StarletteRequestAdapter(request))

    async def execute_single(  # noqa: PLR0913, PLR0917 - Strawberry's signature
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as exc:
            cause = exc.__cause__
            if isinstance(cause, InvalidOperationTypeError):
                # A persisted mutation by GET (app/http/persisted_get.py): refused
                # before it is validated, so nothing runs and no key is used.
                raise Refused(
                    405, "Only queries run by GET; send this with POST.", "METHOD_NOT_ALLOWED"
                ) from exc
            if isinstance(cause, CannotGetOperationTypeError):
                raise Refused(400, exc.reason, "OPERATION_RESOLUTION_FAILURE") from exc
            raise Refused(exc.status_code, exc.reason, "BAD_REQUEST") from exc

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # An admitted request runs; only the endpoint decides when the page is served.
        if isinstance(request, AdmittedRequestAdapter) and request.admitted is not None:
            return False
        return super().should_render_graphql_ide(request)

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        # The context was built with this response: answer with the same one.
        if isinstance(request, AdmittedRequest):
            return request.sub_response
        return await super().get_sub_response(request)

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        admitted = request.admitted if isinstance(request, AdmittedRequestAdapter) else None
        if admitted is None:
            raise Refused(400, "Request not admitted", "BAD_REQUEST")
        return admitted
