"""Whether a request may run, and what it runs: decided before anything is executed.

A failed authentication is charged to the client's address: past that budget it is
answered 429 instead of 401, which bounds guessing and junk-token floods per address;
a valid token is never refused for the failures of others at the same address. An
authenticated request is read, its persisted query resolved, weighed, and charged to
its token's subject. A request over budget gets HTTP 429 with Retry-After and
RATE_LIMITED, and nothing else happens. Every authenticated request costs at least one
token, refused ones included, so a client cannot probe or flood for free. Each decision
comes back as a `Charge`, which labels the answer with the budget's headers
(app/http/budget.py).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from strawberry.http import GraphQLRequestData

from app.auth.principal import Principal
from app.http.budget import Charge
from app.http.refusal import refused
from app.http.view import Admitted
from app.persisted.policy import CLIENT_HEADER, PersistedQueries, Refusal, Resolved
from app.ratelimit.addresses import address_key, client_address
from app.ratelimit.limiter import Decision
from app.ratelimit.setup import RateLimits

logger = logging.getLogger(__name__)

# The request's GraphQL parameters (from its body, or its URL), or HTTPException.
Reader = Callable[[], Awaitable[Admitted]]
# A document this heavy to read (app/schema/limits/weigh.py's text weight: 200 tokens or
# 8 KiB, 2 ms of parsing and more) is first checked against what is left of the
# budget, without parsing it: a caller with too little left gets its 429 for nothing.
# Lighter documents skip that extra look at the limiter (a Redis round trip).
PEEK_FROM = 8


class Weigher(Protocol):
    """app/schema/limits/weigh.py's CostWeigher."""

    def text(self, query: str) -> int: ...

    def __call__(
        self, query: str, operation_name: str | None, variables: Mapping[str, Any] | None
    ) -> int: ...


def rate_limited(decision: Decision) -> JSONResponse:
    seconds = decision.retry_after_header
    return JSONResponse(
        {
            "errors": [
                {
                    "message": f"Too many requests; retry in {seconds} seconds.",
                    "extensions": {"code": "RATE_LIMITED", "retryAfterSeconds": seconds},
                }
            ]
        },
        status_code=429,
        headers={"Retry-After": str(seconds)},
    )


class Admission:
    def __init__(self, limits: RateLimits, persisted: PersistedQueries, weigh: Weigher) -> None:
        self._limits = limits
        self._persisted = persisted
        self._weigh = weigh

    def address_of(self, request: Request) -> str:
        peer = request.client.host if request.client else None
        forwarded = request.headers.getlist("x-forwarded-for")
        return address_key(client_address(peer, forwarded, self._limits.trusted_proxies))

    async def authentication_failed(self, address: str) -> tuple[Response | None, Charge]:
        decision = await self._limits.address.acquire(address, 1)
        charge = Charge("address", self._limits.address_limit, decision, 1)
        return self._refusal("address", decision), charge

    async def admit(
        self, request: Request, read: Reader, principal: Principal
    ) -> tuple[Admitted | Response, Charge]:
        """What the request may run (its documents resolved), or the answer refusing it,
        and what it was charged. A batch (when batching is on) is admitted whole or not
        at all, and weighs its sum."""
        weight = 1
        resolved: list[Resolved] = []
        refusal: Response | None = None
        admitted: list[GraphQLRequestData] = []
        try:
            data = await read()
        except HTTPException as exc:
            refusal = refused(exc)
        else:
            items = data if isinstance(data, list) else [data]
            client = request.headers.get(CLIENT_HEADER)
            for item in items:
                outcome = self._persisted.resolve(item.query, item.extensions, client)
                if isinstance(outcome, Refusal):
                    refusal = JSONResponse(outcome.body(), status_code=outcome.status)
                    break
                resolved.append(outcome)
                admitted.append(dataclasses.replace(item, query=outcome.document))
            else:
                early = await self._peek(principal, admitted)
                if early is not None:
                    return early
                weight = max(1, sum(self._weight_of(item) for item in admitted))
        decision = await self._limits.principal.acquire(f"sub:{principal.subject}", weight)
        charge = Charge("caller", self._limits.principal_limit, decision, weight)
        if (limited := self._refusal("principal", decision)) is not None:
            return limited, charge
        if refusal is not None:
            return refusal, charge
        for outcome in resolved:
            self._persisted.remember(outcome)
        return (admitted if isinstance(data, list) else admitted[0]), charge

    async def _peek(
        self, principal: Principal, items: list[GraphQLRequestData]
    ) -> tuple[Response, Charge] | None:
        """The 429 for documents heavier to read than the budget has left, before they
        are parsed; None to go on."""
        floor = sum(self._weigh.text(item.query) for item in items if item.query is not None)
        if floor < PEEK_FROM:
            return None
        early = await self._limits.principal.peek(f"sub:{principal.subject}", floor)
        limited = self._refusal("principal", early)
        if limited is None:
            return None
        return limited, Charge("caller", self._limits.principal_limit, early, floor)

    def _weight_of(self, item: GraphQLRequestData) -> int:
        if item.query is None:
            return 1
        return self._weigh(item.query, item.operation_name, item.variables)

    def _refusal(self, limiter: str, decision: Decision) -> Response | None:
        if decision.allowed:
            return None
        self._limits.stats.request_rejected(limiter)
        logger.info(
            "rate limited",
            extra={"limiter": limiter, "retry_after": decision.retry_after_seconds},
        )
        return rate_limited(decision)
