"""The request's identity for tracing: X-Request-Id, accepted from the caller when
well-formed, else generated, returned on every response and forwarded downstream; and the
W3C `traceparent`, forwarded only when well-formed."""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A caller-chosen id lands in logs and downstream headers: keep it short and inert.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,128}")
STATE_KEY = "request_id"
# W3C trace context: forwarded only when well-formed (it travels in downstream headers).
_TRACEPARENT = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")


def valid_traceparent(value: str | None) -> str | None:
    return value if value is not None and _TRACEPARENT.fullmatch(value) else None


def request_id_of(scope: Scope) -> str:
    return str(scope.get("state", {}).get(STATE_KEY, ""))


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _VALID_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        scope.setdefault("state", {})[STATE_KEY] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)
