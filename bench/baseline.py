"""The baseline: the gateway's job for the four benchmark scenarios, written by hand.

No GraphQL: one Starlette route per scenario, aiohttp for the downstream calls (its C
HTTP parser and connection pool are the cheapest mature asyncio client; see
bench/README.md), exactly the minimal calls, each level started as soon as the ids it
needs are known. It still does what the job requires and the gateway does: verifies the
bearer JWT with the same verifier, admits only the caller's businesses, forwards
X-Request-Id, validates every downstream body against the same strict pydantic models,
and stores payInvoice's idempotency key and result in PostgreSQL. It answers with the
same JSON as the gateway (tests/bench/test_baseline_parity.py holds both to that).

It serves full-access roles only (owner, admin, accountant): field rules for viewers are
the gateway's business, not a benchmark's.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol, TypeVar

import asyncpg
import httpx
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.clients.models import Balance, Business, Customer, Invoice, ListEnvelope, Payment, Refund
from app.money import format_money, parse_major_amount, to_major_string
from auth.errors import AuthenticationError
from auth.jwks import JwksCache
from auth.principal import Principal, Role
from auth.verifier import JwtConfig, JwtVerifier

JSON = dict[str, Any]
ModelT = TypeVar("ModelT", bound=BaseModel)
FULL_ACCESS = frozenset({Role.OWNER, Role.ADMIN, Role.ACCOUNTANT})
_NOT_FOUND = {"message": "Not found.", "extensions": {"code": "NOT_FOUND"}}
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


class DownstreamFailedError(Exception):
    pass


class RefusedError(Exception):
    def __init__(self, status: int, body: JSON) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


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


class Http(Protocol):
    """The one thing the baseline needs from an HTTP client: an exchange, as bytes."""

    async def exchange(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> tuple[int, bytes]: ...


class AiohttpHttp:
    def __init__(self, session: Any) -> None:
        self._session = session

    async def exchange(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> tuple[int, bytes]:
        async with self._session.request(
            method, url, params=params, headers=headers, data=body
        ) as r:
            return r.status, await r.read()


class Service:
    """One downstream service for one request: its client, base URL and request id."""

    def __init__(self, http: Http, base_url: str, request_id: str) -> None:
        self._http = http
        self._base = base_url
        self._headers = {"X-Request-Id": request_id}

    async def read(self, path: str, params: Mapping[str, str], model: type[ModelT]) -> ModelT:
        status, body = await self._http.exchange(
            "GET", self._base + path, params, self._headers, None
        )
        if status != 200:
            raise DownstreamFailedError(f"GET {path}: {status}")
        return model.model_validate_json(body)

    async def write(
        self, path: str, body: JSON, model: type[ModelT], *, key: str, actor: str
    ) -> ModelT:
        headers = {
            **self._headers,
            "Idempotency-Key": key,
            "X-Actor-Id": actor,
            "Content-Type": "application/json",
        }
        status, raw = await self._http.exchange(
            "POST", self._base + path, None, headers, json.dumps(body).encode()
        )
        if status not in (200, 201):
            raise DownstreamFailedError(f"POST {path}: {status}")
        return model.model_validate_json(raw)

    async def items(self, path: str, param: str, ids: list[str], model: type[ModelT]) -> list[Any]:
        if not ids:
            return []
        envelope = await self.read(path, {param: ",".join(ids)}, ListEnvelope[model])  # type: ignore[valid-type]
        return list(envelope.data)


def money(minor: int, currency: str, *fields: str) -> JSON:
    values = {
        "amount": to_major_string(minor, currency),
        "currency": currency,
        "formatted": format_money(minor, currency) if "formatted" in fields else "",
    }
    return {name: values[name] for name in fields}


def timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def cursor(object_id: str) -> str:
    return base64.urlsafe_b64encode(f"v1:{object_id}".encode()).decode().rstrip("=")


def by_created(records: list[Any]) -> list[Any]:
    return sorted(records, key=lambda r: (r.created_at, r.id))


def grouped(records: list[Any], key: str) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for record in records:
        groups.setdefault(getattr(record, key), []).append(record)
    return groups


@asynccontextmanager
async def aiohttp_clients(config: Config) -> AsyncIterator[tuple[Http, Http]]:
    import aiohttp  # the bench's own dependency: imported only where the baseline runs

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

    # -- (a) the dashboard ------------------------------------------------------------

    async def dashboard(self, principal: Principal, variables: JSON) -> JSON:
        business_id, first = str(variables["id"]), int(variables["first"])
        role = _full_access(principal, business_id, "business")
        invoicing, payments = self.services()
        business_task = asyncio.create_task(
            invoicing.items("/v1/businesses", "ids", [business_id], Business)
        )
        balance_task = asyncio.create_task(
            payments.items("/v1/balances", "business_ids", [business_id], Balance)
        )
        page = await invoicing.read(
            "/v1/invoices",
            {"business_id": business_id, "limit": str(first)},
            ListEnvelope[Invoice],
        )
        invoices = [i for i in page.data if i.business_id == business_id][:first]
        customer_ids = list(dict.fromkeys(i.customer_id for i in invoices))
        customers_task = asyncio.create_task(
            invoicing.items("/v1/customers", "ids", customer_ids, Customer)
        )
        invoice_ids = {i.id for i in invoices}
        paid = [
            p
            for p in await payments.items(
                "/v1/payments", "invoice_ids", [i.id for i in invoices], Payment
            )
            if p.business_id == business_id and p.invoice_id in invoice_ids
        ]
        refunds = await payments.items("/v1/refunds", "payment_ids", [p.id for p in paid], Refund)
        refunds_of = grouped([r for r in refunds if r.business_id == business_id], "payment_id")
        payments_of = grouped(paid, "invoice_id")
        customers = {c.id: c for c in await customers_task if c.business_id == business_id}
        found = [b for b in await business_task if b.id == business_id]
        balances = [b for b in await balance_task if b.business_id == business_id]
        if not found:
            raise RefusedError(200, {"data": {"business": None}, "errors": [_NOT_FOUND]})
        business, today = found[0], datetime.now(UTC).date()
        edges = [
            {
                "node": {
                    "id": invoice.id,
                    "number": invoice.number,
                    "status": invoice.status.upper(),
                    "dueDate": invoice.due_date.isoformat(),
                    "isOverdue": _overdue(invoice, today),
                    "total": money(
                        invoice.total, invoice.currency, "amount", "currency", "formatted"
                    ),
                    "amountDue": money(invoice.amount_due, invoice.currency, "amount"),
                    "customer": _customer(customers[invoice.customer_id], "id", "name", "email"),
                    "payments": [
                        {
                            "id": p.id,
                            "status": p.status.upper(),
                            "amount": money(p.amount, p.currency, "amount", "formatted"),
                            "paymentMethod": _method(p),
                            "refunds": [
                                {
                                    "id": r.id,
                                    "amount": money(r.amount, r.currency, "amount"),
                                    "reason": r.reason.upper() if r.reason else None,
                                }
                                for r in by_created(refunds_of.get(p.id, []))
                            ],
                        }
                        for p in by_created(payments_of.get(invoice.id, []))
                    ],
                }
            }
            for invoice in invoices
        ]
        balance = balances[0] if balances else None
        return {
            "business": {
                "id": business.id,
                "name": business.name,
                "vatNumber": business.vat_number,
                "viewerRole": role.name,
                "balance": {
                    "available": [
                        money(m.amount, m.currency, "amount", "currency", "formatted")
                        for m in balance.available
                    ],
                    "pending": [
                        money(m.amount, m.currency, "amount", "currency") for m in balance.pending
                    ],
                }
                if balance
                else None,
                "invoices": {
                    "edges": edges,
                    "pageInfo": {
                        "hasNextPage": page.has_more or len(page.data) > first,
                        "endCursor": cursor(invoices[-1].id) if invoices else None,
                    },
                },
            }
        }

    # -- (b) one invoice in detail ----------------------------------------------------

    async def invoice(self, principal: Principal, variables: JSON) -> JSON:
        invoice_id = str(variables["id"])
        invoicing, payments = self.services()
        found = await invoicing.items("/v1/invoices", "ids", [invoice_id], Invoice)
        invoice = next((i for i in found if i.id == invoice_id), None)
        if invoice is None or principal.role_in(invoice.business_id) not in FULL_ACCESS:
            raise RefusedError(200, {"data": {"invoice": None}, "errors": [_NOT_FOUND]})
        business_id, currency = invoice.business_id, invoice.currency
        customer_task = asyncio.create_task(
            invoicing.items("/v1/customers", "ids", [invoice.customer_id], Customer)
        )
        paid = by_created(
            [
                p
                for p in await payments.items("/v1/payments", "invoice_ids", [invoice_id], Payment)
                if p.business_id == business_id and p.invoice_id == invoice_id
            ]
        )
        refunds = await payments.items("/v1/refunds", "payment_ids", [p.id for p in paid], Refund)
        refunds_of = grouped([r for r in refunds if r.business_id == business_id], "payment_id")
        customer = next(c for c in await customer_task if c.id == invoice.customer_id)
        full = ("amount", "currency", "formatted")
        return {
            "invoice": {
                "id": invoice.id,
                "number": invoice.number,
                "status": invoice.status.upper(),
                "currency": currency,
                "taxRateBps": invoice.tax_rate_bps,
                "dueDate": invoice.due_date.isoformat(),
                "isOverdue": _overdue(invoice, datetime.now(UTC).date()),
                "createdAt": timestamp(invoice.created_at),
                "updatedAt": timestamp(invoice.updated_at),
                "lines": [
                    {
                        "description": line.description,
                        "quantity": line.quantity,
                        "unitAmount": money(line.unit_amount, currency, "amount", "currency"),
                        "amount": money(line.amount, currency, "amount", "currency"),
                    }
                    for line in invoice.lines
                ],
                "subtotal": money(invoice.subtotal, currency, *full),
                "tax": money(invoice.tax, currency, *full),
                "total": money(invoice.total, currency, *full),
                "amountPaid": money(invoice.amount_paid, currency, *full),
                "amountDue": money(invoice.amount_due, currency, *full),
                "customer": _customer(customer, "id", "name", "email", "phone"),
                "payments": [
                    {
                        "id": p.id,
                        "status": p.status.upper(),
                        "failureCode": p.failure_code,
                        "createdAt": timestamp(p.created_at),
                        "amount": money(p.amount, p.currency, *full),
                        "amountRefunded": money(p.amount_refunded, p.currency, *full),
                        "paymentMethod": _method(p),
                        "refunds": [
                            {
                                "id": r.id,
                                "status": r.status.upper(),
                                "reason": r.reason.upper() if r.reason else None,
                                "createdAt": timestamp(r.created_at),
                                "amount": money(r.amount, r.currency, *full),
                            }
                            for r in by_created(refunds_of.get(p.id, []))
                        ],
                    }
                    for p in paid
                ],
            }
        }

    # -- (c) nodes --------------------------------------------------------------------

    async def nodes(self, principal: Principal, variables: JSON) -> JSON:
        ids = [str(i) for i in variables["ids"]]
        invoicing, payments = self.services()
        invoice_ids = list(dict.fromkeys(i for i in ids if i.startswith("inv_")))
        payment_ids = list(dict.fromkeys(i for i in ids if i.startswith("pay_")))
        payments_task = asyncio.create_task(
            payments.items("/v1/payments", "ids", payment_ids, Payment)
        )
        invoices = {
            i.id: i
            for i in await invoicing.items("/v1/invoices", "ids", invoice_ids, Invoice)
            if principal.role_in(i.business_id) is not None
        }
        customer_ids = list(dict.fromkeys(i.customer_id for i in invoices.values()))
        customers = {
            c.id: c for c in await invoicing.items("/v1/customers", "ids", customer_ids, Customer)
        }
        found_payments = {
            p.id: p for p in await payments_task if principal.role_in(p.business_id) is not None
        }
        full = ("amount", "currency", "formatted")
        out: list[JSON | None] = []
        for node_id in ids:
            if node_id in invoices:
                i = invoices[node_id]
                c = customers[i.customer_id]
                out.append(
                    {
                        "id": i.id,
                        "number": i.number,
                        "status": i.status.upper(),
                        "total": money(i.total, i.currency, *full),
                        "customer": {"id": c.id, "name": c.name},
                    }
                )
            elif node_id in found_payments:
                p = found_payments[node_id]
                out.append(
                    {
                        "id": p.id,
                        "paymentStatus": p.status.upper(),
                        "amount": money(p.amount, p.currency, *full),
                    }
                )
            else:
                out.append(None)
        return {"nodes": out}

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
            raise RefusedError(200, {"data": {"payInvoice": None}, "errors": [_NOT_FOUND]})
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


def _full_access(principal: Principal, business_id: str, field: str) -> Role:
    role = principal.role_in(business_id)
    if role is None or role not in FULL_ACCESS:
        raise RefusedError(200, {"data": {field: None}, "errors": [_NOT_FOUND]})
    return role


def _overdue(invoice: Invoice, today: date) -> bool:
    return invoice.status == "open" and invoice.due_date < today


def _customer(customer: Customer, *fields: str) -> JSON:
    values = {
        "id": customer.id,
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
    }
    return {name: values[name] for name in fields}


def _method(payment: Payment) -> JSON:
    method = payment.payment_method
    return {
        "type": method.type.upper(),
        "brand": method.brand,
        "last4": method.last4,
        "upiVpa": method.upi_vpa,
    }


def create_baseline_app(
    config: Config,
    clients: Clients = aiohttp_clients,
    idp_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    baseline = Baseline(config, clients, idp_transport)
    return Starlette(
        routes=[
            Route("/dashboard", baseline.route(baseline.dashboard), methods=["POST"]),
            Route("/invoice", baseline.route(baseline.invoice), methods=["POST"]),
            Route("/nodes", baseline.route(baseline.nodes), methods=["POST"]),
            Route("/pay", baseline.route(baseline.pay), methods=["POST"]),
            Route("/healthz", lambda _r: Response("ok"), methods=["GET"]),
        ],
        lifespan=baseline.lifespan,
    )


def app_factory() -> Starlette:
    """For `uvicorn --factory bench.baseline:app_factory`: settings read at start-up."""
    return create_baseline_app(Config.from_environment())
