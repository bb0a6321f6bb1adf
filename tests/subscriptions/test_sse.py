"""graphql-sse (distinct connections mode): POST /graphql with Accept: text/event-stream,
through the real app on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from app.auth.principal import Role
from app.subscriptions import view as view_module
from sandbox.seed import GB_BUSINESS_ID, IN_BUSINESS_ID
from sandbox.seed import INVOICES as SEED_INVOICES
from tests.subscriptions.conftest import LiveGateway, TokenMaker, event

INVOICES = (
    "subscription($b: ID!) { invoiceUpdated(businessId: $b) "
    "{ eventId change sequence invoice { id status total { amount currency } "
    "customer { id } } } }"
)
INVOICE = "inv_GB0003"
INVOICE_CUSTOMER = next(i.customer_id for i in SEED_INVOICES if i.id == INVOICE)


class Stream:
    """The events of one SSE answer: ("next", payload), ("complete", None) or
    (":", comment)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self, within: float = 5) -> tuple[str, Any]:
        async with asyncio.timeout(within):
            name, data = "", ""
            async for line in self._lines:
                if line.startswith(":"):
                    return ":", line[1:].strip()
                if line.startswith("event:"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    data = line.split(":", 1)[1].strip()
                elif line == "" and name:
                    return name, json.loads(data) if data else None
        raise AssertionError("the stream ended")


@asynccontextmanager
async def stream(
    live: LiveGateway, query: str, variables: dict[str, Any], token: str | None
) -> AsyncIterator[Stream]:
    headers = {"Accept": "text/event-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with (
        live.http() as client,
        client.stream(
            "POST", "/graphql", json={"query": query, "variables": variables}, headers=headers
        ) as response,
    ):
        yield Stream(response)


async def test_an_invoice_change_reaches_the_subscriber(
    live: LiveGateway, token: TokenMaker
) -> None:
    async with stream(live, INVOICES, {"b": GB_BUSINESS_ID}, token()) as events:
        assert events.response.status_code == 200
        assert events.response.headers["content-type"] == "text/event-stream"
        assert events.response.headers["cache-control"] == "no-cache, no-transform"
        await live.subscribed("user_live")
        assert live.metric("gateway_subscriptions_open", transport="sse") == 1
        # When an invoice of the business is paid
        paid = event("invoice.paid", INVOICE, sequence=3)
        live.publish(paid)
        # Then the subscriber gets it with the invoice as it now stands
        name, payload = await events.next()
    assert (name, payload["data"]["invoiceUpdated"]["eventId"]) == ("next", paid.id)
    assert payload == {
        "data": {
            "invoiceUpdated": {
                "eventId": paid.id,
                "change": "PAID",
                "sequence": 3,
                "invoice": {
                    "id": INVOICE,
                    "status": payload["data"]["invoiceUpdated"]["invoice"]["status"],
                    "total": payload["data"]["invoiceUpdated"]["invoice"]["total"],
                    # Read through the event's own read service, as the field asks
                    "customer": {"id": INVOICE_CUSTOMER},
                },
            }
        }
    }
    await live.subscribed("user_live", 0)
    assert live.metric("gateway_subscriptions_open", transport="sse") == 0


@pytest.mark.parametrize("credential", [None, "not-a-jwt"])
async def test_without_a_valid_token_the_answer_is_401_and_no_stream(
    live: LiveGateway, credential: str | None
) -> None:
    async with stream(live, INVOICES, {"b": GB_BUSINESS_ID}, credential) as events:
        await events.response.aread()
    assert events.response.status_code == 401
    assert events.response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_stranger_gets_not_found_and_the_stream_ends(
    live: LiveGateway, token: TokenMaker
) -> None:
    stranger = token(((IN_BUSINESS_ID, Role.OWNER),), subject="stranger")
    async with stream(live, INVOICES, {"b": GB_BUSINESS_ID}, stranger) as events:
        assert await events.next() == (
            "next",
            {
                "data": None,
                "errors": [{"message": "Not found.", "extensions": {"code": "NOT_FOUND"}}],
            },
        )
        assert await events.next() == ("complete", None)
        live.publish(event("invoice.paid", INVOICE))
    assert live.hub.open_count("stranger") == 0


async def test_the_stream_ends_when_the_token_expires(live: LiveGateway, token: TokenMaker) -> None:
    async with stream(live, INVOICES, {"b": GB_BUSINESS_ID}, token(ttl_seconds=2)) as events:
        await live.subscribed("user_live")
        assert await events.next() == (
            "next",
            {
                "data": None,
                "errors": [
                    {
                        "message": "The token expired; reconnect with a fresh one.",
                        "extensions": {"code": "UNAUTHENTICATED"},
                    }
                ],
            },
        )
        assert await events.next() == ("complete", None)
    assert live.hub.open_count("user_live") == 0


async def test_an_idle_stream_carries_heartbeat_comments(
    live: LiveGateway, token: TokenMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(view_module, "HEARTBEAT_SECONDS", 0.2)
    async with stream(live, INVOICES, {"b": GB_BUSINESS_ID}, token()) as events:
        assert await events.next(within=2) == (":", "ping")


async def test_a_query_is_not_streamed(live: LiveGateway, token: TokenMaker) -> None:
    async with stream(live, "{ viewer { id } }", {}, token()) as events:
        assert await events.next() == (
            "next",
            {
                "data": None,
                "errors": [
                    {
                        "message": "Only subscriptions stream; send queries and mutations "
                        "as plain POSTs.",
                        "extensions": {"code": "BAD_REQUEST"},
                    }
                ],
            },
        )
        assert await events.next() == ("complete", None)


async def test_a_subscription_sent_as_a_plain_post_is_refused(
    live: LiveGateway, token: TokenMaker
) -> None:
    async with live.http() as client:
        response = await client.post(
            "/graphql",
            json={"query": INVOICES, "variables": {"b": GB_BUSINESS_ID}},
            headers={"Authorization": f"Bearer {token()}"},
        )
    assert (response.status_code, response.json()) == (
        400,
        {
            "errors": [
                {
                    "message": "Subscriptions stream: open a WebSocket to /graphql "
                    "(graphql-transport-ws) or POST with Accept: text/event-stream "
                    "(graphql-sse).",
                    "extensions": {"code": "BAD_REQUEST"},
                }
            ]
        },
    )
