"""Transports that act between a downstream answer and the gateway seeing it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx


class AfterFirstCharge(httpx.AsyncBaseTransport):
    """Runs `action` once, right after the first charge (POST /v1/payments) has been
    answered by the payments service and before the gateway reads the answer: the
    world changes between the charge and the recording."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, action: Callable[[], Awaitable[None]]
    ) -> None:
        self._inner = inner
        self._action = action
        self.fired = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if not self.fired and request.method == "POST" and request.url.path == "/v1/payments":
            self.fired = True
            await self._action()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class HoldRecording(httpx.AsyncBaseTransport):
    """While armed, holds every recording POST (/v1/invoices/{id}/payments) until
    `release` is set: whoever sent it is then live, in the middle of its saga, for as
    long as a test needs."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, armed: bool = True) -> None:
        self._inner = inner
        self.armed = armed
        self.reached = asyncio.Event()
        self.release = asyncio.Event()
        self.held = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        recording = path.startswith("/v1/invoices/") and path.endswith("/payments")
        if self.armed and request.method == "POST" and recording:
            self.held += 1
            self.reached.set()
            await self.release.wait()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
