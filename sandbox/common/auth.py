"""Service-token check, applied before anything else (routing included)."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.common.calls import ADMIN_PREFIX, CallLog
from sandbox.common.errors import error_response, unauthenticated


def bearer_ok(scope: Scope, token: str) -> bool:
    """Whether the first Authorization header is `Bearer <token>` (scheme in any case)."""
    for name, value in scope["headers"]:
        if name.lower() == b"authorization":
            scheme, _, credentials = value.partition(b" ")
            # Compared even when the scheme is wrong, so timing tells nothing either way.
            matches = hmac.compare_digest(credentials, token.encode())
            return matches and scheme.lower() == b"bearer"
    return False


class ServiceAuthMiddleware:
    """Records every non-admin call, then answers 401 unless the bearer token matches."""

    def __init__(self, app: ASGIApp, *, token: str, calls: CallLog) -> None:
        self.app = app
        self.token = token
        self.calls = calls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not scope["path"].startswith(ADMIN_PREFIX):
            self.calls.record(scope)
        if not bearer_ok(scope, self.token):
            await error_response(unauthenticated())(scope, receive, send)
            return
        await self.app(scope, receive, send)
