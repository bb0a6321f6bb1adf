"""Stand-ins for the clock and the identity provider."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from app.auth.verifier import JwtVerifier
from tests.auth.tokens import JWKS_URL

MakeVerifier = Callable[..., JwtVerifier]


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeIdp:
    """An identity provider behind httpx.MockTransport that records every request."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.status = 200
        self.body: bytes | None = None  # served instead of the document when set
        self.down = False
        self.delay = 0.0
        self.requests: list[httpx.Request] = []

    @property
    def jwks_fetches(self) -> int:
        return sum(1 for request in self.requests if str(request.url) == JWKS_URL)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if self.body is not None:
            return httpx.Response(self.status, content=self.body)
        return httpx.Response(self.status, json=self.document)
