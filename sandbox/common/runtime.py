"""The request pipeline every sandbox endpoint runs through.

Order (the contracts' README plus the sandbox brief): auth (middleware); faults decided
(an injected failure answers at once, after its latency, doing nothing else; a plain hang
never returns); X-Actor-Id; Idempotency-Key presence and format; idempotency claim or
replay; latency; the handler (body validation, then business rules); storing the outcome
unless 5xx; then the response-side faults (hang after commit, corrupt bodies).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.common.admin import admin_routes
from sandbox.common.auth import ServiceAuthMiddleware
from sandbox.common.calls import CallLog
from sandbox.common.errors import (
    ApiError,
    encode_json,
    error_response,
    invalid,
    json_bytes_response,
)
from sandbox.common.faults import (
    HANG_SECONDS,
    FaultConfig,
    FaultInjector,
    FaultPlan,
    malformed,
    schema_violating,
)
from sandbox.common.idempotency import Claim, IdempotencyStore, fingerprint
from sandbox.common.variants import Variant, VariantSwitch, reshape

MAX_HEADER_LENGTH = 255


@dataclass(frozen=True)
class Call:
    """What a handler may look at: the request, its raw body and the audit actor."""

    request: Request
    body: bytes = b""
    actor: str | None = None

    def path_param(self, name: str) -> str:
        return str(self.request.path_params[name])


@dataclass(frozen=True)
class Reply:
    status: int
    payload: Any


@dataclass(frozen=True)
class Raw:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Reply]


def _run(handler: Handler, call: Call) -> Raw:
    try:
        reply = handler(call)
    except ApiError as err:
        return Raw(err.status, encode_json(err.envelope()), err.headers)
    return Raw(reply.status, encode_json(reply.payload))


def _header(request: Request, name: str) -> str | None:
    values = request.headers.getlist(name)
    return values[0] if values else None


class Service:
    """One sandbox service: its database, idempotency keys, faults, variant and call log.

    With `admin` off there is no /_sandbox/ route at all (404, like any unknown path):
    nothing can inject faults, read calls, reset data or settle payments.
    """

    def __init__(
        self,
        *,
        token: str,
        conn: sqlite3.Connection,
        faults: FaultConfig | None,
        key_required: bool,
        restore_seed: Callable[[], None],
        admin: bool = True,
        variant: Variant | None = None,
    ) -> None:
        self.token = token
        self.conn = conn
        self.key_required = key_required
        self.restore_seed = restore_seed
        self.admin = admin
        self.idempotency = IdempotencyStore(conn, token)
        self.faults = FaultInjector(faults)
        self.variant = VariantSwitch(variant)
        self.calls = CallLog()

    def close(self) -> None:
        self.conn.close()

    def reset(self) -> None:
        self.restore_seed()
        self.idempotency.clear()
        self.faults.reset()
        self.variant.reset()
        self.calls.clear()

    def get(self, path: str, handler: Handler) -> Route:
        async def endpoint(request: Request) -> Response:
            return await self._serve(request, handler, write=False)

        return Route(path, endpoint, methods=["GET"])

    def post(self, path: str, handler: Handler) -> Route:
        async def endpoint(request: Request) -> Response:
            return await self._serve(request, handler, write=True)

        return Route(path, endpoint, methods=["POST"])

    async def _serve(self, request: Request, handler: Handler, *, write: bool) -> Response:
        plan = self.faults.plan(request.method, request.url.path)
        if plan.fail is not None:
            # An injected failure does nothing at all: no checks, no key, no state.
            await self._delay(plan)
            return error_response(plan.fail)
        if plan.redirect_to is not None:
            await self._delay(plan)
            return Response(status_code=302, headers={"Location": plan.redirect_to})
        if plan.hang_before:
            await asyncio.sleep(HANG_SECONDS)
        try:
            if write:
                raw = await self._write(request, handler, plan)
            else:
                await self._delay(plan)
                raw = _run(handler, Call(request))
        except ApiError as err:
            raw = Raw(err.status, encode_json(err.envelope()), err.headers)
        if plan.hang_after:
            await asyncio.sleep(HANG_SECONDS)  # the outcome is stored: a lost response
        # The variant shapes the answer as another implementation would; the faults then
        # corrupt whatever that implementation sent.
        body = reshape(
            self.variant.current, request.method, request.query_params, raw.status, raw.body
        )
        if plan.malformed:
            body = malformed(body)
        elif plan.invalid:
            body = schema_violating(body)
        return json_bytes_response(raw.status, body, raw.headers)

    @staticmethod
    async def _delay(plan: FaultPlan) -> None:
        if plan.latency_s > 0:
            await asyncio.sleep(plan.latency_s)

    async def _write(self, request: Request, handler: Handler, plan: FaultPlan) -> Raw:
        actor = _header(request, "x-actor-id")
        if actor is None or not 1 <= len(actor) <= MAX_HEADER_LENGTH:
            raise ApiError(
                400,
                "actor_required",
                f"X-Actor-Id (1 to {MAX_HEADER_LENGTH} characters) is required on every POST",
                "X-Actor-Id",
            )
        key = _header(request, "idempotency-key")
        if key is None and self.key_required:
            raise ApiError(
                400,
                "idempotency_key_required",
                "Idempotency-Key is required on every POST to this service",
                "Idempotency-Key",
            )
        if key is not None and not 1 <= len(key) <= MAX_HEADER_LENGTH:
            raise invalid(
                f"Idempotency-Key must be 1 to {MAX_HEADER_LENGTH} characters", "Idempotency-Key"
            )
        body = await request.body()
        call = Call(request, body, actor)
        if key is None:
            await self._delay(plan)
            return _run(handler, call)
        outcome = self.idempotency.claim(key, fingerprint("POST", request.url.path, body))
        if outcome.claim is Claim.REPLAY:
            await self._delay(plan)
            return Raw(outcome.status, outcome.body, {"Idempotent-Replayed": "true"})
        stored = False
        try:
            # Sleeping while holding the key lets a concurrent retry see it in use.
            await self._delay(plan)
            raw = _run(handler, call)
            if raw.status < 500:
                self.idempotency.complete(key, raw.status, raw.body)
                stored = True
            return raw
        finally:
            # Failed, cancelled or crashed before an outcome: free the key for a retry.
            if not stored:
                self.idempotency.release(key)

    def app(
        self, routes: Sequence[BaseRoute], admin_extensions: Sequence[BaseRoute] = ()
    ) -> Starlette:
        """The service's app; `admin_extensions` are its own /_sandbox/ routes, if any."""
        admin = [*admin_routes(self), *admin_extensions] if self.admin else []

        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            yield
            self.close()

        return Starlette(
            routes=[*routes, *admin],
            lifespan=lifespan,
            middleware=[Middleware(ServiceAuthMiddleware, token=self.token, calls=self.calls)],
            exception_handlers={HTTPException: _http_error, Exception: _server_error},
        )


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return error_response(ApiError(404, "resource_missing", "Unknown path", None))
    if status == 405:
        return error_response(ApiError(405, "invalid_request", "Method not allowed", None))
    return error_response(ApiError(status, "invalid_request", "Bad request", None))


async def _server_error(request: Request, exc: Exception) -> Response:
    return error_response(ApiError(500, "api_error", "Internal sandbox error", None))
