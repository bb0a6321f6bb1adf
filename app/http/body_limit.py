"""Request bodies over the cap are answered 413 before the application reads a byte.

A declared Content-Length over the cap is refused at once. Otherwise the body is counted
as it arrives and held until it is complete, so a chunked body (no Content-Length) or one
longer than it declared is refused as soon as it passes the cap, and what the application
reads is never more than the cap.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.refusal import refusal


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and not declared.strip().isdigit():
            await refusal(400, "BAD_REQUEST", "Content-Length is not a number.")(
                scope, receive, send
            )
            return
        if declared is not None and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client left; nothing to answer.
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = refusal(
            413,
            "PAYLOAD_TOO_LARGE",
            f"The request body is larger than {self.max_bytes} bytes.",
            Connection="close",
        )
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            # After the body: whatever the server says next (a disconnect).
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
