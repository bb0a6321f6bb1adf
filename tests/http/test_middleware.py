"""The transport middleware driven message by message: what the application reads is
never more than the cap, whatever Content-Length claims; other scopes pass untouched."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from app.http.body_limit import BodySizeLimit
from app.http.content_type import JsonBodiesOnly
from app.http.security_headers import SecurityHeaders


class RecordingApp:
    """Reads the whole body, as the GraphQL endpoint does, and answers 200."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.bodies.append(body)
        after = await receive()
        assert after["type"] == "http.disconnect"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def http_scope(*headers: tuple[bytes, bytes]) -> Scope:
    return {"type": "http", "method": "POST", "path": "/graphql", "headers": list(headers)}


async def call(middleware: BodySizeLimit, scope: Scope, messages: list[Message]) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(scope, receive, send)
    return sent


async def test_a_body_longer_than_its_content_length_is_refused_once_over_the_cap() -> None:
    # Given a body that claims 10 bytes and sends 150 in three chunks
    app = RecordingApp()
    middleware = BodySizeLimit(app, max_bytes=100)
    chunks = [{"type": "http.request", "body": b"x" * 50, "more_body": True}] * 3

    sent = await call(middleware, http_scope((b"content-length", b"10")), list(chunks))

    assert sent[0]["status"] == 413
    assert app.bodies == []


async def test_a_chunked_body_at_the_cap_reaches_the_application_whole() -> None:
    app = RecordingApp()
    middleware = BodySizeLimit(app, max_bytes=100)
    chunks: list[Message] = [
        {"type": "http.request", "body": b"x" * 60, "more_body": True},
        {"type": "http.request", "body": b"y" * 40, "more_body": False},
    ]

    sent = await call(middleware, http_scope(), chunks)

    assert sent[0]["status"] == 200
    assert app.bodies == [b"x" * 60 + b"y" * 40]


async def test_a_client_that_leaves_mid_body_gets_no_answer() -> None:
    app = RecordingApp()
    middleware = BodySizeLimit(app, max_bytes=100)

    sent = await call(
        middleware,
        http_scope(),
        [{"type": "http.request", "body": b"x", "more_body": True}, {"type": "http.disconnect"}],
    )

    assert sent == []
    assert app.bodies == []


@pytest.mark.parametrize(
    "wrap",
    [
        lambda app: BodySizeLimit(app, max_bytes=1),
        lambda app: JsonBodiesOnly(app, paths=("/graphql",)),
        lambda app: SecurityHeaders(app, hsts=True),
    ],
    ids=["body", "content type", "headers"],
)
async def test_other_scopes_pass_through_untouched(wrap: Any) -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    await wrap(app)({"type": "lifespan"}, _never, _discard)

    assert seen == ["lifespan"]


async def _never() -> Message:
    raise AssertionError("lifespan messages are not read here")


async def _discard(message: Message) -> None:
    raise AssertionError("nothing is sent here")
