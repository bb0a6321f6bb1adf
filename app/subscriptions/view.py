"""The GraphQL view with live transports: graphql-transport-ws (app/subscriptions/
websocket.py) and graphql-sse in its "distinct connections mode".

SSE is Strawberry's own (0.341 implements graphql-sse's distinct connections mode: a POST
with `Accept: text/event-stream` answers `text/event-stream`, one `event: next` per
result, `event: complete` at the end, and a `: ping` comment line every 15 s while idle;
Cache-Control no-cache, no-transform and X-Accel-Buffering: no, so proxies neither
buffer nor compress it). Two things are ours:
- Only subscriptions stream. A query or mutation sent with `Accept: text/event-stream`
  is refused as an error result: they go as plain POSTs, whose deadline and budget
  headers apply to one answer.
- The request is authenticated and admitted by the endpoint exactly like any POST (the
  Authorization header, the caller's rate-limit budget charged by the document's cost)
  before the stream starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cross_web import AsyncHTTPRequestAdapter
from starlette.requests import Request
from starlette.responses import Response
from strawberry.http import GraphQLRequestData
from strawberry.http.streaming import HTTPStreamTransport, SSETransport
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from app.http.refusal import Refused
from app.http.view import GatewayView
from app.schema.resolvers.context import Context
from app.subscriptions.live import LiveContext

HEARTBEAT_SECONDS = 15.0
_STREAM_ONLY = " ".join(
    [
        "Subscriptions stream: open a WebSocket to /graphql (graphql-transport-ws) or",
        "POST with Accept: text/event-stream (graphql-sse).",
    ]
)


class SubscriptionsOnlySSE(SSETransport):
    def __init__(self) -> None:
        # Read when the view first streams, so a test can shorten it.
        super().__init__(heartbeat_interval=HEARTBEAT_SECONDS)

    def allowed_operation_types(
        self, allowed_operation_types: set[OperationType]
    ) -> Iterable[OperationType]:
        return (OperationType.SUBSCRIPTION,)


class LiveView(GatewayView):
    stream_transport_classes_by_protocol: Mapping[str, type[HTTPStreamTransport]] = {  # noqa: RUF012 - Strawberry's class attribute
        GRAPHQL_SSE_PROTOCOL: SubscriptionsOnlySSE
    }

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
        except Refused as exc:
            # The schema executes no subscription (app/schema/build.py): one sent as a
            # plain POST is told where subscriptions go.
            if request_adapter.method != "POST" or exc.code != "METHOD_NOT_ALLOWED":
                raise
            raise Refused(400, _STREAM_ONLY, "BAD_REQUEST") from exc

    async def on_ws_connect(self, context: Any) -> UnsetType | dict[str, object] | None:
        # connection_init: the endpoint's connector authenticates it, or raises
        # ConnectionRejectionError (closed with 4403).
        if isinstance(context, LiveContext) and context.connect is not None:
            await context.connect(context)
        unset: UnsetType = UNSET  # acknowledged without a payload
        return unset


def accepts_event_stream(accept: str | None) -> bool:
    """Whether the view will answer with an event stream (SSETransport.accepts' rule)."""
    return any(
        part.split(";", 1)[0].strip().lower() == "text/event-stream"
        for part in (accept or "").split(",")
    )
