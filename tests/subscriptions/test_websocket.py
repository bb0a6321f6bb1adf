"""graphql-transport-ws at /graphql, through the real app on loopback."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from app.auth.principal import Role
from app.core.money import to_major_string
from app.subscriptions import hub as hub_module
from app.subscriptions import websocket as ws_module
from sandbox.seed import GB_BUSINESS_ID, IN_BUSINESS_ID, IN_OPEN_INVOICE_ID
from sandbox.seed import PAYMENTS as SEED_PAYMENTS
from tests.subscriptions.conftest import (
    LiveFactory,
    LiveGateway,
    TokenMaker,
    event,
    init,
    receive,
    subscribe,
)

PAYMENTS = """
subscription Payments($invoice: ID!) {
  paymentUpdated(invoiceId: $invoice) {
    eventId change sequence occurredAt
    payment { id status amount { amount currency } invoice { id } }
  }
}
"""
# pay_GB0003 is a succeeded payment of inv_GB0003; pay_GB0001 is inv_GB0002's.
INVOICE = "inv_GB0003"
ITS_PAYMENT = "pay_GB0003"
OTHER_INVOICES_PAYMENT = "pay_GB0001"
AMOUNT = next(to_major_string(p.amount, p.currency) for p in SEED_PAYMENTS if p.id == ITS_PAYMENT)


async def test_a_payment_change_of_the_invoice_reaches_its_subscriber(
    live: LiveGateway, token: TokenMaker
) -> None:
    # Given an owner subscribed to an invoice's payments over a WebSocket
    async with live.ws() as socket:
        assert await init(socket, token()) == {"type": "connection_ack"}
        await subscribe(socket, PAYMENTS, {"invoice": INVOICE})
        await live.subscribed("user_live")
        # When a payment of another invoice changes, then one of this invoice
        other = event("payment.pending", OTHER_INVOICES_PAYMENT)
        mine = event("payment.succeeded", ITS_PAYMENT, sequence=2)
        live.publish(other, mine)
        # Then only this invoice's payment arrives, as it now stands, with the event
        message = await receive(socket)
    assert message == {
        "id": "1",
        "type": "next",
        "payload": {
            "data": {
                "paymentUpdated": {
                    "eventId": mine.id,
                    "change": "SUCCEEDED",
                    "sequence": 2,
                    "occurredAt": "2026-12-03T13:45:00Z",
                    "payment": {
                        "id": ITS_PAYMENT,
                        "status": "SUCCEEDED",
                        "amount": {"amount": AMOUNT, "currency": "GBP"},
                        "invoice": {"id": INVOICE},
                    },
                }
            }
        },
    }
    assert live.metric("gateway_subscription_events_delivered_total") == 1


async def closed_with(socket: Any) -> tuple[int | None, str | None]:
    """Waits for the server to close the socket; its close code and reason."""
    async with asyncio.timeout(5):
        await socket.wait_closed()
    return socket.close_code, socket.close_reason


@pytest.mark.parametrize("credential", [None, "not-a-jwt", "expired"])
async def test_a_connection_without_a_valid_token_is_closed_4403(
    live: LiveGateway, token: TokenMaker, credential: str | None
) -> None:
    # Given a connection_init with no token, a malformed one, or one already expired
    bearer = token(ttl_seconds=-3600) if credential == "expired" else credential
    async with live.ws() as socket:
        payload = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        # Then the server refuses it as the protocol says: 4403 Forbidden, no ack
        assert await closed_with(socket) == (4403, "Forbidden")


async def test_a_subscribe_before_connection_init_is_closed_4401(live: LiveGateway) -> None:
    async with live.ws() as socket:
        await subscribe(socket, PAYMENTS, {"invoice": INVOICE})
        assert await closed_with(socket) == (4401, "Unauthorized")
    assert live.hub.open_count("user_live") == 0


async def test_a_stranger_gets_not_found_and_never_an_event(
    live: LiveGateway, token: TokenMaker
) -> None:
    # Given a member of the IN business only, subscribing to a GB invoice
    stranger = token(((IN_BUSINESS_ID, Role.OWNER),), subject="stranger")
    async with live.ws() as socket:
        await init(socket, stranger)
        await subscribe(socket, PAYMENTS, {"invoice": INVOICE})
        # Then NOT_FOUND, exactly as an unknown invoice, and the operation completes
        assert await receive(socket) == {
            "id": "1",
            "type": "next",
            "payload": {
                "data": None,
                "errors": [
                    {
                        "message": "Not found.",
                        "extensions": {"code": "NOT_FOUND"},
                    }
                ],
            },
        }
        assert await receive(socket) == {"id": "1", "type": "complete"}
        # When the invoice's payment changes
        live.publish(event("payment.succeeded", ITS_PAYMENT))
        # Then nothing reaches the stranger: nothing was ever subscribed
        with pytest.raises(TimeoutError):
            await receive(socket, within=0.3)
    assert live.hub.open_count("stranger") == 0


async def test_a_viewer_gets_each_event_with_the_payment_method_refused(
    live: LiveGateway, token: TokenMaker
) -> None:
    viewer = token(((GB_BUSINESS_ID, Role.VIEWER),))
    query = """
    subscription { paymentUpdated(invoiceId: "inv_GB0003") {
      change payment { id paymentMethod { type } } } }
    """
    async with live.ws() as socket:
        await init(socket, viewer)
        await subscribe(socket, query)
        await live.subscribed("user_live")
        live.publish(event("payment.succeeded", ITS_PAYMENT))
        # Then the event is delivered, and the field her role may not read is refused
        assert await receive(socket) == {
            "id": "1",
            "type": "next",
            "payload": {
                "data": {
                    "paymentUpdated": {
                        "change": "SUCCEEDED",
                        "payment": {"id": ITS_PAYMENT, "paymentMethod": None},
                    }
                },
                "errors": [
                    {
                        "message": "Your role or token scope does not allow reading this field.",
                        "locations": [{"line": 3, "column": 27}],
                        "path": ["paymentUpdated", "payment", "paymentMethod"],
                        "extensions": {"code": "FORBIDDEN"},
                    }
                ],
            },
        }


async def test_a_partner_token_without_the_payments_scope_is_refused_at_subscribe(
    live: LiveGateway, token: TokenMaker
) -> None:
    partner = token(scopes=["invoices:read"])
    async with live.ws() as socket:
        await init(socket, partner)
        await subscribe(socket, PAYMENTS, {"invoice": INVOICE})
        assert await receive(socket) == {
            "id": "1",
            "type": "next",
            "payload": {
                "data": None,
                "errors": [
                    {
                        "message": "This token lacks the scope payments:read, which this needs.",
                        "extensions": {"code": "FORBIDDEN", "requiredScope": "payments:read"},
                    }
                ],
            },
        }
        assert await receive(socket) == {"id": "1", "type": "complete"}
    assert live.hub.open_count("user_live") == 0


async def test_business_events_leave_out_types_outside_the_partners_scopes(
    live: LiveGateway, token: TokenMaker
) -> None:
    # Given a partner that may read invoices, not payments, following the business
    partner = token(scopes=["invoices:read"])
    query = (
        "subscription($b: ID!) { businessEvents(businessId: $b) "
        "{ id type subjectId sequence object { id } } }"
    )
    async with live.ws() as socket:
        await init(socket, partner)
        await subscribe(socket, query, {"b": GB_BUSINESS_ID})
        await live.subscribed("user_live")
        payment = event("payment.succeeded", ITS_PAYMENT)
        invoice = event("invoice.paid", INVOICE, sequence=4)
        live.publish(payment, invoice)
        # Then only the invoice's event arrives; the payment's was dropped by policy
        assert await receive(socket) == {
            "id": "1",
            "type": "next",
            "payload": {
                "data": {
                    "businessEvents": {
                        "id": invoice.id,
                        "type": "INVOICE_PAID",
                        "subjectId": INVOICE,
                        "sequence": 4,
                        "object": {"id": INVOICE},
                    }
                }
            },
        }
    assert live.metric("gateway_subscription_events_dropped_total", reason="not_visible") == 1


async def test_the_per_principal_limit_refuses_one_more_subscription(
    live: LiveGateway, token: TokenMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a caller already holding its maximum of open subscriptions (across sockets)
    limit = hub_module.MAX_OPEN_PER_PRINCIPAL
    async with live.ws() as first, live.ws() as second:
        await init(first, token())
        await init(second, token())
        for number in range(limit):
            await subscribe(first, PAYMENTS, {"invoice": INVOICE}, operation_id=str(number))
        await live.subscribed("user_live", limit)
        assert live.metric("gateway_subscriptions_open", transport="websocket") == limit
        # When it subscribes once more, on another socket
        await subscribe(second, PAYMENTS, {"invoice": INVOICE}, operation_id="extra")
        # Then that one is refused, typed, and the others stay open
        assert await receive(second) == {
            "id": "extra",
            "type": "next",
            "payload": {
                "data": None,
                "errors": [
                    {
                        "message": f"At most {limit} subscriptions may be open at once per "
                        "caller; close one first.",
                        "extensions": {"code": "TOO_MANY_SUBSCRIPTIONS", "limit": limit},
                    }
                ],
            },
        }
        assert await receive(second) == {"id": "extra", "type": "complete"}
        assert live.hub.open_count("user_live") == limit
    # And closing the sockets closes their subscriptions
    await live.subscribed("user_live", 0)
    assert live.metric("gateway_subscriptions_open", transport="websocket") == 0


async def test_the_socket_closes_4403_when_the_token_expires(
    live: LiveGateway, token: TokenMaker
) -> None:
    async with live.ws() as socket:
        await init(socket, token(ttl_seconds=2))
        await subscribe(socket, PAYMENTS, {"invoice": INVOICE})
        await live.subscribed("user_live")
        # When the token's exp passes, the server closes the connection
        code, reason = await closed_with(socket)
    assert (code, reason) == (4403, "Token expired")
    await live.subscribed("user_live", 0)


async def test_the_server_pings_and_answers_pings(
    live: LiveGateway, token: TokenMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ws_module.GatewayTransportWSHandler, "ping_seconds", 0.2)
    async with live.ws() as socket:
        await init(socket, token())
        await socket.send(json.dumps({"type": "ping"}))
        assert await receive(socket) == {"type": "pong"}
        # While idle, the server pings
        assert await receive(socket, within=2) == {"type": "ping"}


async def test_a_query_over_the_websocket_is_refused(live: LiveGateway, token: TokenMaker) -> None:
    async with live.ws() as socket:
        await init(socket, token())
        await subscribe(socket, "{ viewer { id } }")
        assert await receive(socket) == {
            "id": "1",
            "type": "error",
            "payload": [
                {
                    "message": "Only subscriptions run over WebSocket; send queries and "
                    "mutations with POST.",
                    "extensions": {"code": "BAD_REQUEST"},
                }
            ],
        }


async def test_a_subscribe_over_budget_is_rate_limited(
    live_factory: LiveFactory, token: TokenMaker
) -> None:
    # Given a budget of 1 token, and a subscription that costs 1
    live = await live_factory(rate_limit_capacity=1, rate_limit_refill_per_second=0.01)
    async with live.ws() as socket:
        await init(socket, token())
        await subscribe(socket, PAYMENTS, {"invoice": INVOICE}, operation_id="a")
        await live.subscribed("user_live")
        # When a second one would overdraw it
        await subscribe(socket, PAYMENTS, {"invoice": INVOICE}, operation_id="b")
        message = await receive(socket)
    # Then it is refused, typed, and nothing ran
    retry = message["payload"][0]["extensions"]["retryAfterSeconds"]
    assert message == {
        "id": "b",
        "type": "error",
        "payload": [
            {
                "message": f"Too many requests; retry in {retry} seconds.",
                "extensions": {"code": "RATE_LIMITED", "retryAfterSeconds": retry},
            }
        ],
    }
    assert retry >= 1
    assert live.hub.open_count("user_live") == 0


async def test_a_slow_subscriber_is_closed_with_a_typed_error(
    live_factory: LiveFactory, token: TokenMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given subscriptions that may fall at most 2 events behind
    monkeypatch.setattr(hub_module, "QUEUE_SIZE", 2)
    live = await live_factory()
    async with live.ws() as socket:
        await init(socket, token())
        await subscribe(socket, PAYMENTS, {"invoice": INVOICE})
        await live.subscribed("user_live")
        # When 3 events arrive before it has taken any
        live.publish(*(event("payment.succeeded", ITS_PAYMENT, sequence=n) for n in (1, 2, 3)))
        # Then its stream ends with SLOW_CONSUMER, its backlog dropped and counted
        assert await receive(socket) == {
            "id": "1",
            "type": "next",
            "payload": {
                "data": None,
                "errors": [
                    {
                        "message": "This subscription fell too far behind and was closed; "
                        "subscribe again and re-read the current state.",
                        "extensions": {"code": "SLOW_CONSUMER"},
                    }
                ],
            },
        }
        assert await receive(socket) == {"id": "1", "type": "complete"}
    assert live.metric("gateway_subscription_events_dropped_total", reason="slow_consumer") == 3


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("https://dashboard.example", True), ("https://evil.example", False), (None, True)],
)
async def test_a_handshake_from_another_sites_page_is_refused(
    live_factory: LiveFactory, origin: str | None, allowed: bool
) -> None:
    live = await live_factory(cors_origins="https://dashboard.example")
    if allowed:
        async with live.ws(origin=origin) as socket:
            assert socket.subprotocol == "graphql-transport-ws"
        return
    with pytest.raises(InvalidStatus) as refused:
        async with live.ws(origin=origin):
            pass
    assert refused.value.response.status_code == 403


async def test_a_document_over_the_body_limit_is_refused_unread(
    live_factory: LiveFactory, token: TokenMaker
) -> None:
    live = await live_factory(max_body_bytes=2048)
    padding = "#" + "x" * 2100 + "\n"
    async with live.ws() as socket:
        await init(socket, token())
        await subscribe(socket, padding + PAYMENTS, {"invoice": INVOICE})
        assert await receive(socket) == {
            "id": "1",
            "type": "error",
            "payload": [
                {
                    "message": "The document is larger than the limit.",
                    "extensions": {"code": "PAYLOAD_TOO_LARGE"},
                }
            ],
        }
    assert live.hub.open_count("user_live") == 0


async def test_an_event_naming_another_business_s_object_is_never_shown(
    live: LiveGateway, token: TokenMaker
) -> None:
    # Given an owner of GB following its business
    query = "subscription($b: ID!) { businessEvents(businessId: $b) { id object { id } } }"
    async with live.ws() as socket:
        await init(socket, token())
        await subscribe(socket, query, {"b": GB_BUSINESS_ID})
        await live.subscribed("user_live")
        # When an event of GB names an IN invoice (a corrupt or forged event), then a good one
        forged = event("invoice.paid", IN_OPEN_INVOICE_ID)
        good = event("invoice.paid", INVOICE)
        live.publish(forged, good)
        # Then the object is read under the caller's ownership: the IN one is not shown
        assert await receive(socket) == {
            "id": "1",
            "type": "next",
            "payload": {"data": {"businessEvents": {"id": good.id, "object": {"id": INVOICE}}}},
        }
    assert live.metric("gateway_subscription_events_dropped_total", reason="not_visible") == 1
