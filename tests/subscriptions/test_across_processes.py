"""Across gateway processes, through the real RabbitMQ (`rabbitmq_server_url`): each gateway
consumes the exchange through its own queue, so an event reaches subscribers on every
one, whichever caused it.

Two apps in one test process stand for two replicas: each has its own database, hub,
queue and broker connection; they share only the broker and the sandbox services.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from app.auth.principal import Role
from sandbox.seed import GB_BUSINESS_ID, GB_OPEN_INVOICE_ID, IN_BUSINESS_ID
from tests.e2e.conftest import PAYMENTS_TOKEN, Downstreams
from tests.e2e.mutation_helpers import PAY_INVOICE, mutate, valid_input
from tests.subscriptions.conftest import (
    LiveFactory,
    LiveGateway,
    TokenMaker,
    event,
    init,
    receive,
    subscribe,
)
from tests.subscriptions.test_amqp_feed import publish
from tests.subscriptions.test_sse import stream

INVOICES = "subscription($b: ID!) { invoiceUpdated(businessId: $b) { eventId change } }"
PAYMENTS = (
    "subscription($i: ID!) { paymentUpdated(invoiceId: $i) "
    "{ change sequence payment { id status amount { amount currency } } } }"
)


async def consuming(*gateways: LiveGateway) -> None:
    async with asyncio.timeout(10):
        for gateway in gateways:
            await gateway.app.state.live.live.feed.consuming.wait()


async def test_an_event_on_the_exchange_reaches_subscribers_of_both_gateways(
    live_factory: LiveFactory, token: TokenMaker, rabbitmq_server_url: str
) -> None:
    broker = rabbitmq_server_url
    first, second = await live_factory(amqp_url=broker), await live_factory(amqp_url=broker)
    await consuming(first, second)
    owner, variables = token(), {"b": GB_BUSINESS_ID}
    async with first.ws() as socket, stream(second, INVOICES, variables, owner) as events:
        await init(socket, owner)
        await subscribe(socket, INVOICES, variables)
        await first.subscribed("user_live")
        await second.subscribed("user_live")
        # When the relay of any process publishes an event
        paid = event("invoice.paid", "inv_GB0003")
        await publish(broker, paid.to_json())
        # Then the subscriber on each gateway gets it
        expected = {"invoiceUpdated": {"eventId": paid.id, "change": "PAID"}}
        assert await receive(socket) == {"id": "1", "type": "next", "payload": {"data": expected}}
        assert await events.next() == ("next", {"data": expected})


async def test_a_payment_taken_on_one_gateway_reaches_subscribers_on_another(
    live_factory: LiveFactory, token: TokenMaker, rabbitmq_server_url: str
) -> None:
    # Given process A, where the payment is taken, and process B, where it is watched
    broker = rabbitmq_server_url
    taker, watcher = await live_factory(amqp_url=broker), await live_factory(amqp_url=broker)
    await consuming(taker, watcher)
    owner, variables = token(), {"i": GB_OPEN_INVOICE_ID}
    async with watcher.ws() as socket, stream(watcher, PAYMENTS, variables, owner) as events:
        await init(socket, owner)
        await subscribe(socket, PAYMENTS, variables)
        await watcher.subscribed("user_live", 2)
        # When the owner pays the invoice by card on A
        async with taker.http() as client:
            payload = await mutate(
                client, PAY_INVOICE, owner, valid_input(PAY_INVOICE, str(uuid.uuid4()))
            )
        expected = {
            "paymentUpdated": {
                "change": "SUCCEEDED",
                "sequence": 1,
                "payment": {
                    "id": payload["payment"]["id"],
                    "status": "SUCCEEDED",
                    "amount": {"amount": "12.50", "currency": "GBP"},
                },
            }
        }
        # Then B's subscribers, on both transports, see it: A's relay published it
        assert await receive(socket, within=10) == {
            "id": "1",
            "type": "next",
            "payload": {"data": expected},
        }
        assert await events.next(within=10) == ("next", {"data": expected})


async def test_a_bank_transfer_is_seen_pending_then_settled_on_another_gateway(
    live_factory: LiveFactory,
    token: TokenMaker,
    downstreams: Downstreams,
    rabbitmq_server_url: str,
) -> None:
    """The issue's acceptance case: a bank transfer paid on A, settled while B holds the
    subscriptions; B's subscribers see pending, then succeeded; a stranger nothing."""
    fast_settler = {"settlement_poll_seconds": 0.2, "settlement_interval_seconds": 0.2}
    taker = await live_factory(amqp_url=rabbitmq_server_url, **fast_settler)
    watcher = await live_factory(amqp_url=rabbitmq_server_url)
    await consuming(taker, watcher)
    owner, variables = token(), {"i": GB_OPEN_INVOICE_ID}
    stranger = token(((IN_BUSINESS_ID, Role.OWNER),), subject="stranger")
    async with (
        watcher.ws() as socket,
        watcher.ws() as strangers,
        stream(watcher, PAYMENTS, variables, owner) as events,
    ):
        await init(socket, owner)
        await subscribe(socket, PAYMENTS, variables)
        await init(strangers, stranger)
        await subscribe(strangers, PAYMENTS, variables)
        assert (await receive(strangers))["payload"]["errors"][0]["extensions"] == {
            "code": "NOT_FOUND"
        }
        assert await receive(strangers) == {"id": "1", "type": "complete"}
        await watcher.subscribed("user_live", 2)
        # When the owner pays by bank transfer on A
        async with taker.http() as client:
            payload = await mutate(
                client,
                PAY_INVOICE,
                owner,
                valid_input(PAY_INVOICE, str(uuid.uuid4()), paymentMethod="pm_bank_transfer"),
            )
        payment_id = payload["payment"]["id"]

        def update(change: str, sequence: int) -> dict[str, object]:
            return {
                "paymentUpdated": {
                    "change": change,
                    "sequence": sequence,
                    "payment": {
                        "id": payment_id,
                        "status": change,
                        "amount": {"amount": "12.50", "currency": "GBP"},
                    },
                }
            }

        # Then B's subscribers see it pending
        pending = {"data": update("PENDING", 1)}
        assert await receive(socket, within=10) == {"id": "1", "type": "next", "payload": pending}
        assert await events.next(within=10) == ("next", pending)
        # And when the bank settles it, and A's settler records it, succeeded
        await settle(downstreams, payment_id)
        succeeded = {"data": update("SUCCEEDED", 2)}
        assert await receive(socket, within=10) == {
            "id": "1",
            "type": "next",
            "payload": succeeded,
        }
        assert await events.next(within=10) == ("next", succeeded)
        # And the stranger got nothing at all
        with pytest.raises(TimeoutError):
            await receive(strangers, within=0.2)


async def settle(downstreams: Downstreams, payment_id: str) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=downstreams.payments), base_url="http://sandbox"
    ) as client:
        response = await client.post(
            f"/_sandbox/payments/{payment_id}/settle",
            json={"status": "succeeded"},
            headers={"Authorization": f"Bearer {PAYMENTS_TOKEN}"},
        )
    assert response.status_code == 200, response.text
