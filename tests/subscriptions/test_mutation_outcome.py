"""`mutationOutcome` as a subscription: an app that lost payInvoice's answer (or
subscribes before sending it) follows the key to its end, over a WebSocket."""

from __future__ import annotations

import uuid

import pytest

from app.auth.principal import Role
from sandbox.seed import GB_BUSINESS_ID, GB_OPEN_INVOICE_ID
from tests.e2e.mutation_helpers import PAY_INVOICE, mutate, valid_input
from tests.subscriptions.conftest import LiveGateway, TokenMaker, init, receive, subscribe
from tests.subscriptions.test_sse import stream

FOLLOW = """
subscription($key: String!) {
  mutationOutcome(mutation: PAY_INVOICE, idempotencyKey: $key) {
    status
    result { ... on PayInvoicePayload { payment { id status } invoice { id } } }
  }
}
"""


async def test_a_payment_is_followed_by_its_key_to_its_end(
    live: LiveGateway, token: TokenMaker
) -> None:
    owner, key = token(), str(uuid.uuid4())
    async with live.ws() as socket:
        await init(socket, owner)
        # Given the app subscribes before sending: the key is not known yet
        await subscribe(socket, FOLLOW, {"key": key})
        assert await receive(socket) == {
            "id": "1",
            "type": "next",
            "payload": {"data": {"mutationOutcome": None}},
        }
        assert live.hub.open_count("user_live") == 1
        # When the payment is sent (and its answer lost)
        async with live.http() as client:
            sent = await mutate(client, PAY_INVOICE, owner, valid_input(PAY_INVOICE, key))
        # Then the subscription shows it completed, as its replay would, and ends
        assert await receive(socket) == {
            "id": "1",
            "type": "next",
            "payload": {
                "data": {
                    "mutationOutcome": {
                        "status": "COMPLETED",
                        "result": {
                            "payment": {"id": sent["payment"]["id"], "status": "SUCCEEDED"},
                            "invoice": {"id": GB_OPEN_INVOICE_ID},
                        },
                    }
                }
            },
        }
        assert await receive(socket) == {"id": "1", "type": "complete"}
    assert live.hub.open_count("user_live") == 0


async def test_another_users_key_of_the_same_text_shows_nothing(
    live: LiveGateway, token: TokenMaker
) -> None:
    owner, key = token(), str(uuid.uuid4())
    other = token(((GB_BUSINESS_ID, Role.OWNER),), subject="colleague")
    async with live.ws() as socket:
        await init(socket, other)
        await subscribe(socket, FOLLOW, {"key": key})
        assert await receive(socket) == {
            "id": "1",
            "type": "next",
            "payload": {"data": {"mutationOutcome": None}},
        }
        async with live.http() as client:
            await mutate(client, PAY_INVOICE, owner, valid_input(PAY_INVOICE, key))
        # The owner's key is not the colleague's: nothing changes for them
        with pytest.raises(TimeoutError):
            await receive(socket, within=1.5)


async def test_following_a_key_over_sse_ends_when_the_token_expires(
    live: LiveGateway, token: TokenMaker
) -> None:
    async with stream(live, FOLLOW, {"key": str(uuid.uuid4())}, token(ttl_seconds=2)) as events:
        assert await events.next() == ("next", {"data": {"mutationOutcome": None}})
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
