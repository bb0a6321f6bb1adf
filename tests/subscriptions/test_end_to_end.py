"""One process, the embedded feed (no broker): a mutation records its event with the
change, the table poller picks it up, and subscribers on both transports see it.

The cross-process version (process A causes, process B's subscriber sees, through
RabbitMQ) is the same test with two `live_factory(amqp_url=...)` apps: the hook is
`live_factory`, which takes any setting."""

from __future__ import annotations

import uuid

from sandbox.seed import GB_OPEN_INVOICE_ID
from tests.e2e.mutation_helpers import PAY_INVOICE, mutate, valid_input
from tests.subscriptions.conftest import LiveGateway, TokenMaker, init, receive, subscribe
from tests.subscriptions.test_sse import stream

PAYMENTS = (
    "subscription($i: ID!) { paymentUpdated(invoiceId: $i) "
    "{ change sequence payment { id status amount { amount currency } } } }"
)


async def test_a_payment_taken_by_mutation_reaches_both_transports(
    live: LiveGateway, token: TokenMaker
) -> None:
    owner = token()
    variables = {"i": GB_OPEN_INVOICE_ID}
    async with live.ws() as socket, stream(live, PAYMENTS, variables, owner) as events:
        await init(socket, owner)
        await subscribe(socket, PAYMENTS, variables)
        await live.subscribed("user_live", 2)
        # When the owner pays the invoice by card
        async with live.http() as client:
            payload = await mutate(
                client, PAY_INVOICE, owner, valid_input(PAY_INVOICE, str(uuid.uuid4()))
            )
        payment_id = payload["payment"]["id"]
        expected = {
            "paymentUpdated": {
                "change": "SUCCEEDED",
                "sequence": 1,
                "payment": {
                    "id": payment_id,
                    "status": "SUCCEEDED",
                    "amount": {"amount": "12.50", "currency": "GBP"},
                },
            }
        }
        # Then both subscribers see it, within the poller's half second and the read
        assert await receive(socket) == {"id": "1", "type": "next", "payload": {"data": expected}}
        assert await events.next() == ("next", {"data": expected})
