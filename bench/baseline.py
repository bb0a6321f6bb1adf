"""The baseline: the gateway's job for the four benchmark scenarios, written by hand.

No GraphQL: one Starlette route per scenario, aiohttp for the downstream calls (its C
HTTP parser and connection pool are the cheapest mature asyncio client; see
bench/README.md), exactly the minimal calls, each level started as soon as the ids it
needs are known. It still does what the job requires and the gateway does: verifies the
bearer JWT with the same verifier, admits only the caller's businesses, forwards
X-Request-Id, validates every downstream body against the same strict pydantic models,
and stores payInvoice's idempotency key and result in PostgreSQL. It answers with the
same JSON as the gateway (tests/e2e/test_bench_baseline.py holds both to that).
The read answers are in bench/baseline_reads.py, the downstream client in
bench/baseline_http.py; payInvoice, which also needs the database, is here.

It serves full-access roles only (owner, admin, accountant): field rules for viewers are
the gateway's business, not a benchmark's.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.auth.errors import AuthenticationError
from app.auth.jwks import JwksCache
from app.auth.principal import Principal
from app.auth.verifier import JwtConfig, JwtVerifier
from app.core.money import parse_major_amount
from app.downstream.models import Invoice, Payment
from bench import baseline_reads as reads
from bench.baseline_http import (
    JSON,
    AiohttpHttp,
    DownstreamFailedError,
    Http,
    RefusedError,
    Service,
)
from bench.baseline_reads import FULL_ACCESS, NOT_FOUND, money

ReadAnswer = Callable[[Service, Service, Principal, JSON], Awaitable[JSON]]
_KEYS_TABLE = """
CREATE TABLE IF NOT EXISTS bench_baseline_keys (
    scope text NOT NULL,
    key text NOT NULL,
    fingerprint text NOT NULL,
    result text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
)
"""


@dataclass(frozen=True)
class Config:
    invoicing_url: str
    invoicing_token: str
    payments_url: str
    payments_token: str
    jwt_issuer: str
    jwt_audience: str
    jwks_url: str
    database_url: str | None

    @classmethod
    def from_environment(cls) -> Config:
        env = os.environ
        database_url = env.get("DATABASE_URL")
        return cls(
            invoicing_url=env["INVOICING_URL"],
            invoicing_token=env["INVOICING_TOKEN"],
            payments_url=env["PAYMENTS_URL"],
            payments_token=env["PAYMENTS_TOKEN"],
            jwt_issuer=env["JWT_ISSUER"],
            jwt_audience=env["JWT_AUDIENCE"],
            jwks_url=env["JWT_JWKS_URL"],
            # asyncpg speaks plain postgresql:// URLs.
            database_url=database_url.replace("+asyncpg", "") if database_url else None,
        )


@asynccontextmanager
async def aiohttp_clients(config: Config) -> AsyncIterator[tuple[Http, Http]]:
    import aiohttp  # imported only where the baseline runs

    def session(token: str) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=60),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=aiohttp.ClientTimeout(total=5),
            auto_decompress=False,
        )

    async with (
        session(config.invoicing_token) as invoicing,
        session(config.payments_token) as payments,
    ):
        yield AiohttpHttp(invoicing), AiohttpHttp(payments)


Clients = Callable[[Config], AbstractAsyncContextManager[tuple[Http, Http]]]


class Baseline:
    def __init__(
        self,
        config: Config,
        clients: Clients = aiohttp_clients,
        idp_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.clients = clients
        self.idp_transport = idp_transport
        self.invoicing: Http | None = None
        self.payments: Http | None = None
        self.verifier: JwtVerifier | None = None
        self.db: asyncpg.Pool | None = None

    @asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        config = self.config
        async with (
            self.clients(config) as (invoicing, payments),
            httpx.AsyncClient(trust_env=False, transport=self.idp_transport) as idp,
        ):
            self.invoicing, self.payments = invoicing, payments
            self.verifier = JwtVerifier(
                JwtConfig(
                    issuer=config.jwt_issuer,
                    audience=config.jwt_audience,
                    jwks_url=config.jwks_url,
                    algorithms=("RS256", "ES256"),
                ),
                JwksCache(idp, config.jwks_url),
            )
            if config.database_url:
                self.db = await asyncpg.create_pool(config.database_url, min_size=2, max_size=10)
                await self.db.execute(_KEYS_TABLE)
            try:
                yield
            finally:
                if self.db is not None:
                    await self.db.close()

    def services(self) -> tuple[Service, Service]:
        if self.invoicing is None or self.payments is None:
            raise RuntimeError("the baseline has not started (lifespan not run)")
        request_id = uuid.uuid4().hex
        return (
            Service(self.invoicing, self.config.invoicing_url, request_id),
            Service(self.payments, self.config.payments_url, request_id),
        )

    def reading(self, answer: ReadAnswer) -> Callable[[Principal, JSON], Awaitable[JSON]]:
        async def handler(principal: Principal, variables: JSON) -> JSON:
            invoicing, payments = self.services()
            return await answer(invoicing, payments, principal, variables)

        return handler

    def route(self, handler: Callable[[Principal, JSON], Awaitable[JSON]]) -> Any:
        async def endpoint(request: Request) -> Response:
            if self.verifier is None:
                raise RuntimeError("the baseline has not started (lifespan not run)")
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            try:
                if scheme.lower() != "bearer":
                    raise AuthenticationError("missing")
                principal = await self.verifier.verify(token)
            except AuthenticationError:
                return JSONResponse({"errors": [{"message": "unauthenticated"}]}, 401)
            variables = json.loads(await request.body()).get("variables", {})
            try:
                data = await handler(principal, variables)
            except RefusedError as refusal:
                return JSONResponse(refusal.body, refusal.status)
            except DownstreamFailedError as exc:
                return JSONResponse({"errors": [{"message": str(exc)}]}, 502)
            return JSONResponse({"data": data})

        return endpoint

    # -- (d) payInvoice ---------------------------------------------------------------

    async def pay(self, principal: Principal, variables: JSON) -> JSON:
        if self.db is None:
            raise RuntimeError("payInvoice needs DATABASE_URL")
        given = variables["input"]
        key, invoice_id = str(given["idempotencyKey"]), str(given["invoiceId"])
        currency = str(given["amount"]["currency"])
        amount = parse_major_amount(str(given["amount"]["amount"]), currency)
        scope = f"{principal.subject}:payInvoice"
        fingerprint = hashlib.sha256(json.dumps(given, sort_keys=True).encode()).hexdigest()
        claimed = await self.db.fetchval(
            "INSERT INTO bench_baseline_keys (scope, key, fingerprint) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING RETURNING 1",
            scope,
            key,
            fingerprint,
        )
        if claimed is None:
            stored = await self.db.fetchval(
                "SELECT result FROM bench_baseline_keys WHERE scope = $1 AND key = $2", scope, key
            )
            if stored is None:
                raise RefusedError(409, {"errors": [{"message": "key in use"}]})
            replay: JSON = json.loads(stored)
            replay["payInvoice"]["replayed"] = True
            return replay
        invoicing, payments = self.services()
        found = await invoicing.items("/v1/invoices", "ids", [invoice_id], Invoice)
        invoice = next((i for i in found if i.id == invoice_id), None)
        if invoice is None or principal.role_in(invoice.business_id) not in FULL_ACCESS:
            raise RefusedError(200, {"data": {"payInvoice": None}, "errors": [NOT_FOUND]})
        if invoice.status != "open" or invoice.currency != currency or amount > invoice.amount_due:
            raise RefusedError(
                200, {"data": {"payInvoice": None}, "errors": [{"message": "refused"}]}
            )
        digest = hashlib.sha256(f"{scope}:{key}".encode()).hexdigest()
        payment = await payments.write(
            "/v1/payments",
            {
                "business_id": invoice.business_id,
                "invoice_id": invoice_id,
                "amount": amount,
                "currency": currency,
                "payment_method": str(given["paymentMethod"]),
            },
            Payment,
            key=f"bl1-{digest}-charge",
            actor=principal.subject,
        )
        recorded = await invoicing.write(
            f"/v1/invoices/{invoice_id}/payments",
            {"payment_id": payment.id, "amount": payment.amount, "currency": payment.currency},
            Invoice,
            key=f"bl1-{digest}-record",
            actor=principal.subject,
        )
        result = {
            "payInvoice": {
                "payment": {
                    "id": payment.id,
                    "status": payment.status.upper(),
                    "amount": money(payment.amount, payment.currency, "amount", "currency"),
                },
                "invoice": {
                    "id": recorded.id,
                    "status": recorded.status.upper(),
                    "amountDue": money(
                        recorded.amount_due, recorded.currency, "amount", "currency"
                    ),
                },
                "userErrors": [],
                "replayed": False,
            }
        }
        await self.db.execute(
            "UPDATE bench_baseline_keys SET result = $3 WHERE scope = $1 AND key = $2",
            scope,
            key,
            json.dumps(result),
        )
        return result


def create_baseline_app(
    config: Config,
    clients: Clients = aiohttp_clients,
    idp_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    baseline = Baseline(config, clients, idp_transport)
    return Starlette(
        routes=[
            Route(
                "/dashboard", baseline.route(baseline.reading(reads.dashboard)), methods=["POST"]
            ),
            Route("/invoice", baseline.route(baseline.reading(reads.invoice)), methods=["POST"]),
            Route("/nodes", baseline.route(baseline.reading(reads.nodes)), methods=["POST"]),
            Route("/pay", baseline.route(baseline.pay), methods=["POST"]),
            Route("/healthz", lambda _r: Response("ok"), methods=["GET"]),
        ],
        lifespan=baseline.lifespan,
    )


def app_factory() -> Starlette:
    """For `uvicorn --factory bench.baseline:app_factory`: settings read at start-up."""
    return create_baseline_app(Config.from_environment())
