"""graphql-transport-ws at /graphql: authentication at connection_init, expiry, pings
and the caller's budget, on top of Strawberry's protocol handler.

- Authenticated by the `connection_init` payload, `{"Authorization": "Bearer <jwt>"}`
  (browsers cannot set headers on a WebSocket), with the same verifier and rules as
  HTTP. A missing or bad token closes the socket with 4403 (the protocol's "Forbidden")
  and costs the client address's budget, as a failed HTTP authentication does. A
  subscribe before the acknowledgement is 4401, by the protocol (Strawberry's handler).
- At the token's `exp` the socket is closed with 4403: the credential it was opened with
  is over. graphql-ws clients retry after 4403 (it is not one of their fatal codes) and
  send their connectionParams again, i.e. a fresh token.
- Pings: the server sends `{"type": "ping"}` every PING_SECONDS (clients answer with
  pong), so idle subscriptions keep proxies and NATs from dropping the connection; a
  client's ping gets a pong.
- Each subscribe is charged to the caller's rate-limit budget by its document's cost,
  like an HTTP request (app/http/admission.py); over budget it gets an `error` message
  with RATE_LIMITED and retryAfterSeconds, and nothing runs.
- Only subscriptions run here: a query or mutation gets an `error` message. They go by
  POST, where the request deadline, persisted-query policy and budget headers apply.
- Cross-site WebSocket hijacking: a browser sends cookies, not bearer tokens, with a
  WebSocket handshake, and this endpoint reads no cookies, so a page on another site
  cannot act as the user. The handshake's Origin is checked against CORS_ORIGINS anyway
  (Strawberry's view: a cross-origin handshake from elsewhere is refused with 403).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from graphql import GraphQLFormattedError, OperationType
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    SubscribeMessage,
)

from app.auth.bearer import extract_bearer_token
from app.auth.errors import AuthenticationError, JwksUnavailableError
from app.auth.principal import Principal
from app.http.admission import PEEK_FROM
from app.ratelimit.addresses import address_key, client_address
from app.ratelimit.limiter import Decision
from app.schema.limits.weigh import CostWeigher
from app.subscriptions.live import LiveContext, LiveSession
from app.wiring.live import LiveHolder, mutations_for_events, reads_for_events
from app.wiring.resources import ResourceHolder

logger = logging.getLogger(__name__)

PING_SECONDS = 15.0
# 4403 "Forbidden": the protocol's close for a refused connection_init.
CLOSE_FORBIDDEN = 4403


def expiry_of(token: str) -> float:
    """The `exp` of a token the verifier has just accepted (so it is signed, and `exp` is
    a number): read here rather than carried on Principal, which stays per request."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError, binascii.Error):
        return 0.0  # unreadable: treated as expired, so nothing is held open


class Connector:
    """Authenticates a live connection and opens its session."""

    def __init__(self, holder: ResourceHolder, live: LiveHolder) -> None:
        self._holder = holder
        self._live = live

    async def connect(self, context: LiveContext) -> None:
        resources = self._holder.resources
        raw = _header(context.connection_params, "authorization")
        try:
            token = extract_bearer_token(raw)
            principal = await resources.verifier.verify(token)
        except AuthenticationError as exc:
            logger.info("websocket authentication failed", extra={"reason": exc.reason})
            peer = context.request.client.host if context.request.client else None
            forwarded = context.request.headers.getlist("x-forwarded-for")
            address = address_key(
                client_address(peer, forwarded, resources.rate_limits.trusted_proxies)
            )
            await resources.rate_limits.address.acquire(address, 1)
            raise ConnectionRejectionError from exc
        except JwksUnavailableError as exc:
            logger.warning("identity provider keys unavailable")
            raise ConnectionRejectionError from exc
        context.session = self.session(principal, expiry_of(token), "websocket", context.request_id)

    def session(
        self, principal: Principal, expires_at: float, transport: str, request_id: str
    ) -> LiveSession:
        resources, live = self._holder.resources, self._live.live
        return LiveSession(
            principal=principal,
            expires_at=expires_at,
            transport=transport,
            hub=live.hub,
            metrics=live.metrics,
            make_reads=reads_for_events(resources, principal, request_id),
            make_mutations=mutations_for_events(resources, principal, request_id),
        )


def _header(params: Mapping[str, object], name: str) -> str | None:
    for key, value in params.items():
        if key.lower() == name and isinstance(value, str):
            return value
    return None


class GatewayTransportWSHandler(BaseGraphQLTransportWSHandler[LiveContext, None]):
    """Set on the view by the endpoint, with the caller's budget (`holder`, `weigh`)."""

    holder: ResourceHolder
    weigh: CostWeigher
    ping_seconds: float = PING_SECONDS

    @classmethod
    def bound(cls, holder: ResourceHolder, weigh: CostWeigher) -> type[GatewayTransportWSHandler]:
        """This handler, charging subscribes to the budgets of `holder`'s rate limits."""
        return type(cls.__name__, (cls,), {"holder": holder, "weigh": weigh})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._keeper: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self._keeper is None:
            self._keeper = asyncio.create_task(self._keep(self.context.live))

    async def _keep(self, session: LiveSession) -> None:
        """Pings while the token lasts; closes the socket when it expires."""
        while (left := session.seconds_left()) > 0:
            await asyncio.sleep(min(left, self.ping_seconds))
            if session.seconds_left() > 0:
                await self.send_message({"type": "ping"})
        with contextlib.suppress(Exception):
            await self.websocket.close(code=CLOSE_FORBIDDEN, reason="Token expired")

    async def shutdown(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._keeper
        await super().shutdown()

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged and message["id"] not in self.operations:
            refusal = await self._refusal(message)
            if refusal is not None:
                error: ErrorMessage = {"id": message["id"], "type": "error", "payload": [refusal]}
                await self.send_message(error)
                return
        await super().handle_subscribe(message)

    async def _refusal(self, message: SubscribeMessage) -> GraphQLFormattedError | None:
        """As admission does for a POST (app/http/admission.py): the size cap, a heavy
        document checked against what is left of the budget before it is parsed, the
        operation's type, then the charge by cost."""
        payload = message["payload"]
        query, name = payload["query"], payload.get("operationName")
        resources = self.holder.resources
        key = f"sub:{self.context.live.principal.subject}"
        if len(query.encode()) > resources.settings.max_body_bytes:
            return _error("The document is larger than the limit.", "PAYLOAD_TOO_LARGE")
        floor = self.weigh.text(query)
        if floor >= PEEK_FROM:
            early = await resources.rate_limits.principal.peek(key, floor)
            if not early.allowed:
                return self._limited(early)
        kind = self.weigh.operation_type(query, name)
        if kind is not None and kind is not OperationType.SUBSCRIPTION:
            return _error(
                "Only subscriptions run over WebSocket; send queries and mutations with POST.",
                "BAD_REQUEST",
            )
        weight = max(1, self.weigh(query, name, payload.get("variables")))
        decision = await resources.rate_limits.principal.acquire(key, weight)
        return None if decision.allowed else self._limited(decision)

    def _limited(self, decision: Decision) -> GraphQLFormattedError:
        self.holder.resources.rate_limits.stats.request_rejected("principal")
        seconds = decision.retry_after_header
        return {
            "message": f"Too many requests; retry in {seconds} seconds.",
            "extensions": {"code": "RATE_LIMITED", "retryAfterSeconds": seconds},
        }


def _error(message: str, code: str) -> GraphQLFormattedError:
    return {"message": message, "extensions": {"code": code}}
