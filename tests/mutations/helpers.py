"""Helpers for the payInvoice saga tests: the GraphQL call, the sandbox services' admin
and write surfaces (reached directly, never through the gateway), and reads of the
gateway's own tables."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp

from app.db.tables import idempotency_keys, outbox, payment_locks, payment_watch
from app.idempotency.keys import KeyScope, downstream_key

Json = dict[str, Any]

SANDBOX_ACTOR = "user_sandbox_admin"

PAY_MUTATION = """
mutation Pay($input: PayInvoiceInput!) {
  payInvoice(input: $input) {
    payment {
      id
      status
      amount { amount currency }
      amountRefunded { amount currency }
    }
    invoice { id status amountPaid { amount } amountDue { amount } amountPending { amount } }
    userErrors { code message field }
    replayed
  }
}
"""


def record_key_of(issuer: str, subject: str, client_key: str, step: str) -> str:
    """The downstream Idempotency-Key the gateway derives for one step of payInvoice."""
    return downstream_key(KeyScope(issuer, subject, "payInvoice").digest, client_key, step)


def major(minor: int, exponent: int = 2) -> str:
    """Minor units as the MoneyInput decimal string (GBP: 2 decimals)."""
    return str(Decimal(minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))


def minor(amount: str, exponent: int = 2) -> int:
    return int(Decimal(amount).scaleb(exponent))


async def pay(
    client: httpx.AsyncClient,
    token: str,
    key: str,
    invoice_id: str,
    *,
    amount_minor: int | None = None,
    currency: str = "GBP",
    method: str = "pm_card_ok",
) -> Json:
    """payInvoice through the gateway; the payload (no top-level GraphQL errors allowed)."""
    body = await pay_answer(
        client,
        token,
        key,
        invoice_id,
        amount_minor=amount_minor,
        currency=currency,
        method=method,
    )
    assert "errors" not in body, body
    payload: Json = body["data"]["payInvoice"]
    return payload


async def pay_answer(
    client: httpx.AsyncClient,
    token: str,
    key: str,
    invoice_id: str,
    *,
    amount_minor: int | None = None,
    currency: str = "GBP",
    method: str = "pm_card_ok",
) -> Json:
    """payInvoice through the gateway; the whole answer (HTTP 200 required)."""
    variables: Json = {
        "input": {"idempotencyKey": key, "invoiceId": invoice_id, "paymentMethod": method}
    }
    if amount_minor is not None:
        variables["input"]["amount"] = {"amount": major(amount_minor), "currency": currency}
    response = await client.post(
        "/graphql",
        json={"query": PAY_MUTATION, "variables": variables},
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


def codes(payload: Json) -> list[str]:
    return [error["code"] for error in payload["userErrors"]]


@dataclass
class Sandbox:
    """One sandbox service, in-process (an ASGI app) or a real process (a base URL)."""

    token: str
    app: ASGIApp | None = None
    base_url: str | None = None

    def _client(self) -> httpx.AsyncClient:
        if self.app is not None:
            return httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.app), base_url="http://sandbox"
            )
        assert self.base_url is not None
        return httpx.AsyncClient(base_url=self.base_url, timeout=10, trust_env=False)

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def _request(
        self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        async with self._client() as client:
            return await client.request(
                method, path, json=json, headers={**self.auth(), **(headers or {})}
            )

    async def faults(self, **config: object) -> None:
        response = await self._request("PUT", "/_sandbox/faults", json=config)
        assert response.status_code == 200, response.text

    async def clear_faults(self) -> None:
        response = await self._request("DELETE", "/_sandbox/faults")
        assert response.status_code == 200, response.text

    async def variant(self, **choices: object) -> None:
        """Answer as another implementation of the contract would (sandbox/common/variants.py)."""
        response = await self._request("PUT", "/_sandbox/variant", json=choices)
        assert response.status_code == 200, response.text

    async def calls(self) -> list[Json]:
        response = await self._request("GET", "/_sandbox/calls")
        assert response.status_code == 200, response.text
        calls: list[Json] = response.json()["data"]
        return calls

    async def clear_calls(self) -> None:
        response = await self._request("DELETE", "/_sandbox/calls")
        assert response.status_code == 204, response.text

    async def posts(self, path: str) -> list[Json]:
        return [c for c in await self.calls() if c["method"] == "POST" and c["path"] == path]

    # -- invoicing ---------------------------------------------------------------------

    async def invoice(self, invoice_id: str) -> Json:
        response = await self._request("GET", f"/v1/invoices/{invoice_id}")
        assert response.status_code == 200, response.text
        invoice: Json = response.json()
        return invoice

    async def write(self, path: str, body: Json | None = None) -> httpx.Response:
        return await self._request(
            "POST",
            path,
            json=body,
            headers={"X-Actor-Id": SANDBOX_ACTOR, "Idempotency-Key": f"test-{uuid.uuid4().hex}"},
        )

    # -- payments ----------------------------------------------------------------------

    async def payments_for(
        self, invoice_id: str, *, besides: frozenset[str] = frozenset()
    ) -> list[Json]:
        """The invoice's payments (newest first), leaving out `besides` (the seed's)."""
        response = await self._request("GET", f"/v1/payments?invoice_ids={invoice_id}")
        assert response.status_code == 200, response.text
        payments: list[Json] = response.json()["data"]
        return [p for p in payments if p["id"] not in besides]

    async def payment_ids_for(self, invoice_id: str) -> frozenset[str]:
        return frozenset(p["id"] for p in await self.payments_for(invoice_id))

    async def settle(self, payment_id: str, status: str) -> Json:
        """What a bank does days later: the pending payment succeeds or fails."""
        response = await self._request(
            "POST", f"/_sandbox/payments/{payment_id}/settle", json={"status": status}
        )
        assert response.status_code == 200, response.text
        payment: Json = response.json()
        return payment

    async def refunds_for(self, payment_id: str) -> list[Json]:
        response = await self._request("GET", f"/v1/refunds?payment_ids={payment_id}")
        assert response.status_code == 200, response.text
        refunds: list[Json] = response.json()["data"]
        return refunds


# -- the gateway's tables -------------------------------------------------------------------


async def outbox_rows(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(select(outbox).order_by(outbox.c.id))).all())


async def watch_rows(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        return list(
            (
                await connection.execute(select(payment_watch).order_by(payment_watch.c.taken_at))
            ).all()
        )


async def lock_rows(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(select(payment_locks))).all())


async def key_rows(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(select(idempotency_keys))).all())


def utcnow() -> datetime:
    return datetime.now(UTC)


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float, interval: float = 0.1, what: str
) -> None:
    """Polls `check` until it holds; fails naming `what` after `within` seconds."""
    ends = time.monotonic() + within
    while True:
        if await check():
            return
        if time.monotonic() >= ends:
            raise AssertionError(f"not within {within:.0f} s: {what}")
        await asyncio.sleep(interval)
