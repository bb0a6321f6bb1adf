"""The /graphql endpoint: authenticate first, then hand the request to Strawberry.

Live updates use the same path: a WebSocket (graphql-transport-ws, authenticated at
connection_init: app/subscriptions/websocket.py) and a POST with `Accept:
text/event-stream` (graphql-sse), which is authenticated and admitted like any POST and
then runs with a live context (app/subscriptions/live.py) instead of a request's.

Authentication happens here, before Strawberry sees the request, so that a missing or
invalid token is answered with HTTP 401 and nothing is parsed or executed. Admission
(app/http/admission.py: rate limits, persisted queries) decides before anything runs.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from functools import partial
from typing import Any, cast

from cross_web import HTTPException
from graphql import OperationType
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL, GRAPHQL_TRANSPORT_WS_PROTOCOL

from app.auth.bearer import extract_bearer_token
from app.auth.errors import AuthenticationError, JwksUnavailableError
from app.auth.principal import Principal
from app.core.deadline import Deadline
from app.http import persisted_get
from app.http.admission import Admission, Reader
from app.http.graphiql.site import GraphiQLSite
from app.http.refusal import refusal, refused
from app.http.request_id import request_id_of, valid_traceparent
from app.http.unauthenticated import unauthenticated
from app.http.view import Admitted, AdmittedRequest
from app.schema.build import build_schema
from app.schema.limits.config import Limits
from app.schema.limits.extension import DocumentChecks
from app.schema.limits.weigh import CostWeigher
from app.schema.resolvers.context import Context
from app.subscriptions.hub import MAX_OPEN_PER_PRINCIPAL
from app.subscriptions.live import LiveContext
from app.subscriptions.view import LiveView, accepts_event_stream
from app.subscriptions.websocket import Connector, GatewayTransportWSHandler, expiry_of
from app.telemetry.requests import (
    CLIENT_CLOSED_REQUEST,
    RequestRecord,
    finish_request,
    start_request,
)
from app.wiring.context import build_context
from app.wiring.live import LiveHolder
from app.wiring.resources import ResourceHolder

logger = logging.getLogger(__name__)
# Time for the answer to be written after the last downstream call gave up.
_GRACE_SECONDS = 0.25


class GraphQLEndpoint:
    def __init__(
        self,
        holder: ResourceHolder,
        *,
        graphiql: GraphiQLSite | None,
        limits: Limits | None = None,
        hide_suggestions: bool = True,
        lean_executor: bool = True,
        compiled_plans: bool = True,
        compiled_guards: bool = True,
        leaf_steps: bool = True,
        whole_page_children: bool = True,
        live: LiveHolder | None = None,
        allowed_origins: Sequence[str] = (),
    ) -> None:
        self._holder = holder
        self._connector = Connector(holder, live or LiveHolder())
        self._graphiql = graphiql
        self._whole_page_children = whole_page_children
        limits = limits or Limits()
        checks = DocumentChecks(limits, hide_suggestions=hide_suggestions)
        schema = build_schema(
            limits,
            hide_suggestions=hide_suggestions,
            checks=checks,
            lean_executor=lean_executor,
            compiled=compiled_plans,
            compiled_guards=compiled_guards,
            leaf_steps=leaf_steps,
        )
        schema.count_compiled_fallback = self._count_compiled_fallback
        # Rate limits charge a request its cost, from the checks execution reuses.
        self._weigh = CostWeigher(schema._schema, checks, limits.max_cost)
        self._view = LiveView(
            schema,
            # Strawberry's own page loads GraphiQL from a CDN; ours is self-hosted.
            graphql_ide=None,
            # Only persisted queries reach the view by GET (app/http/persisted_get.py);
            # Strawberry then refuses any other operation type.
            allow_queries_via_get=True,
            multipart_uploads_enabled=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_SSE_PROTOCOL),
            connection_init_wait_timeout=timedelta(seconds=10),
            # A backstop only: the hub's per-principal limit answers first, typed.
            max_subscriptions_per_connection=2 * MAX_OPEN_PER_PRINCIPAL,
            # WebSocket handshakes from another site's pages: only these origins.
            allowed_origins=allowed_origins,
        )
        self._view.graphql_transport_ws_handler_class = cast(
            Any, GatewayTransportWSHandler.bound(holder, self._weigh)
        )

    def _count_compiled_fallback(self, reason: str) -> None:
        # Executions run inside requests, after start-up: the resources are there.
        self._holder.resources.metrics.compiled_fallbacks.labels(reason).inc()

    async def websocket(self, websocket: WebSocket) -> None:
        """graphql-transport-ws: the handler authenticates at connection_init."""
        context = LiveContext(
            request=websocket,
            request_id=request_id_of(websocket.scope) or f"ws-{uuid.uuid4().hex}",
            connect=self._connector.connect,
        )
        # The view is typed for HTTP's Context; a live one serves the schema as well.
        await self._view.run(websocket, context=cast(Context, context))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        view = self._view
        by_get = persisted_get.wanted(request)
        if not by_get and view.should_render_graphql_ide(view.request_adapter_class(request)):
            if self._graphiql is not None:
                await self._graphiql.page()(scope, receive, send)
                return
            if "text/html" in request.headers.get("accept", ""):
                # A browser asking for the page: there is none here.
                await refusal(404, "NOT_FOUND", "No page is served here.")(scope, receive, send)
                return
        if request.method != "POST" and not by_get:
            # GET serves GraphiQL, and persisted queries by their hash: no document, least
            # of all a mutation, runs from a URL (which logs, caches and links keep).
            await refusal(
                405, "METHOD_NOT_ALLOWED", "Send GraphQL requests with POST.", Allow="POST"
            )(scope, receive, send)
            return
        resources = self._holder.resources
        record = start_request(
            request_id_of(scope),
            resources.tracing,
            valid_traceparent(request.headers.get("traceparent")),
        )
        status = CLIENT_CLOSED_REQUEST
        try:
            response = await self._handle(request, record)
            if by_get:
                response = persisted_get.conditional(request, response)
            status = response.status_code
        finally:
            # Also for a request cancelled under it: it happened, and took time.
            finish_request(record, resources.metrics, status)
        await response(scope, receive, send)

    async def _handle(self, request: Request, record: RequestRecord) -> Response:
        resources = self._holder.resources
        deadline = Deadline(resources.settings.request_timeout_seconds)
        admission = Admission(resources.rate_limits, resources.persisted_queries, self._weigh)
        address = admission.address_of(request)
        # The token is checked first: a valid one is never refused for failures others
        # sent from the same address (an office behind one NAT). Malformed tokens fail
        # in microseconds, before any signature is computed.
        try:
            token = extract_bearer_token(request.headers.get("authorization"))
            principal = await resources.verifier.verify(token)
            record.subject = principal.subject
        except AuthenticationError as exc:
            logger.info("authentication failed", extra={"reason": exc.reason})
            limited, charge = await admission.authentication_failed(address)
            if limited is not None:
                return charge.label(limited)
            return charge.label(
                unauthenticated(exc.reason, exact=resources.settings.is_development)
            )
        except JwksUnavailableError:
            logger.warning("identity provider keys unavailable")
            return JSONResponse(
                {
                    "errors": [
                        {
                            "message": "Authentication is temporarily unavailable; retry shortly.",
                            "extensions": {"code": "AUTHENTICATION_UNAVAILABLE"},
                        }
                    ]
                },
                status_code=503,
                headers={"Retry-After": "5"},
            )
        admitted, charge = await admission.admit(request, self._reader(request), principal)
        if isinstance(admitted, Response):
            return charge.label(admitted)
        return charge.label(await self._run(request, record, principal, admitted, deadline, token))

    def _queries_only(self, admitted: Admitted) -> bool:
        """Whether every operation the request runs is a query (its cached parse)."""
        items = admitted if isinstance(admitted, list) else [admitted]
        return all(
            item.query is not None
            and self._weigh.operation_type(item.query, item.operation_name) is OperationType.QUERY
            for item in items
        )

    def _reader(self, request: Request) -> Reader:
        if request.method == "GET":

            async def from_url() -> Admitted:
                return persisted_get.read(request)

            return from_url
        return partial(self._view.read_request, request)

    async def _run(
        self,
        request: Request,
        record: RequestRecord,
        principal: Principal,
        admitted: Admitted,
        deadline: Deadline,
        token: str,
    ) -> Response:
        view = self._view
        resources = self._holder.resources
        sub_response = await view.get_sub_response(request)
        request_id = request_id_of(request.scope)
        context: Context | LiveContext
        if accepts_event_stream(request.headers.get("accept")):
            # graphql-sse: the stream outlives this request's deadline; each event is
            # read with its own (app/subscriptions/live.py).
            session = self._connector.session(principal, expiry_of(token), "sse", request_id)
            context = LiveContext(request=request, request_id=request_id, session=session)
        else:
            context = build_context(
                request,
                sub_response,
                resources,
                principal,
                request_id,
                resources.today,
                deadline,
                record,
                whole_page_children=self._whole_page_children,
                share_reads=self._queries_only(admitted),
            )
        try:
            # Downstream calls already stop at the deadline; this net catches anything
            # else that would hold the answer (a slow database, a stuck resolver).
            async with asyncio.timeout(deadline.remaining() + _GRACE_SECONDS):
                return await view.run(
                    AdmittedRequest(request, admitted, sub_response), context=cast(Context, context)
                )
        except TimeoutError:
            budget = resources.settings.request_timeout_seconds
            logger.error("request exceeded its time budget", extra={"budget": budget})
            record.error_codes.append("TIMEOUT")
            record.has_data = False
            return JSONResponse(
                {
                    "data": None,
                    "errors": [
                        {
                            "message": "The request took too long; retry shortly.",
                            "extensions": {"code": "TIMEOUT"},
                        }
                    ],
                }
            )
        except HTTPException as exc:
            # Refusals raised while reading the request or choosing its operation.
            return refused(exc)
