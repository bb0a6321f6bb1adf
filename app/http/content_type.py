"""POST bodies to GraphQL must be `application/json` (UTF-8), else 415 before a byte is
read. The content types a browser may send cross-origin without a preflight
(`text/plain`, `application/x-www-form-urlencoded`, `multipart/form-data`) can thus never
reach the endpoint, whatever its parser would make of them: a forged form post or beacon
(CSRF) is refused, and a real cross-origin call must pass the CORS preflight."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.http.refusal import refusal

JSON = "application/json"


def is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    essence, *parameters = (part.strip() for part in content_type.split(";"))
    if essence.lower() != JSON:
        return False
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            return False
    return True


class JsonBodiesOnly:
    def __init__(self, app: ASGIApp, *, paths: Sequence[str]) -> None:
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in self.paths:
            if not is_json(Headers(scope=scope).get("content-type")):
                response = refusal(
                    415,
                    "UNSUPPORTED_MEDIA_TYPE",
                    "Send GraphQL requests as application/json.",
                    Accept=JSON,
                )
                await response(scope, receive, send)
                return
            # Media types are case-insensitive; Strawberry compares them as written.
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
            scope = {**scope, "headers": [*headers, (b"content-type", JSON.encode())]}
        await self.app(scope, receive, send)
