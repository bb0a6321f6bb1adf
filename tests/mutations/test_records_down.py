"""payInvoice when the gateway's own database stops answering after the charge: the
caller gets a typed, retryable problem (never an internal error), and once the database
is back the payment is finished, with its one charge, and replayed to the same key."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from app.idempotency.store import DEFAULT_LEASE
from sandbox.seed import GB_OPEN_INVOICE_ID
from tests.mutations.conftest import WorldFactory
from tests.mutations.helpers import Sandbox, codes, pay, pay_answer
from tests.mutations.transports import AfterFirstCharge
from tests.tcp_hop import database_behind_hop

INVOICE = GB_OPEN_INVOICE_ID
PAST_GRACE = timedelta(seconds=31)  # the default RELAY_GRACE_SECONDS is 30
PAST_LEASE = DEFAULT_LEASE + timedelta(seconds=1)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_records_lost_after_the_charge_are_a_typed_retryable_problem(
    world_factory: WorldFactory, database_url: str
) -> None:
    # given a gateway whose database goes away right after the payments service charged
    async with database_behind_hop(database_url) as (database, through_hop):

        async def cut() -> None:
            database.cut()

        def wrap(
            name: str, transport: httpx.AsyncBaseTransport, invoicing: Sandbox, payments: Sandbox
        ) -> httpx.AsyncBaseTransport:
            return AfterFirstCharge(transport, cut) if name == "payments" else transport

        world = await world_factory(wrap=wrap, database_url=through_hop)

        # when the caller pays
        answer = await pay_answer(world.client, world.token, "records-down", INVOICE)

        # then it is told, in the payload, to retry with the same key: no internal error
        assert "errors" not in answer, answer
        payload = answer["data"]["payInvoice"]
        assert codes(payload) == ["DOWNSTREAM_UNAVAILABLE"], payload
        assert "same idempotency key" in payload["userErrors"][0]["message"]
        assert len(await world.payments.posts("/v1/payments")) == 1

        # and once the database is back, the retry finishes the one payment
        database.restore()

        # and the interrupted attempt's lease is honoured until it expires (its release
        # could not be written): a retry right now is told to pause, and nothing is sent
        early = await pay(world.client, world.token, "records-down", INVOICE)
        assert codes(early) == ["IDEMPOTENCY_KEY_IN_USE"], early
        assert len(await world.payments.posts("/v1/payments")) == 1

        # and the relay, once the lease and grace are past, finishes the saga, after which
        # the retry replays the one payment
        relay = await world.relay(outbox_ahead=PAST_GRACE, keys_ahead=PAST_LEASE)
        assert await relay.run_once() == 1
        retried = await pay(world.client, world.token, "records-down", INVOICE)
    assert codes(retried) == [], retried
    assert retried["payment"]["status"] == "SUCCEEDED"
    charges = await world.payments.posts("/v1/payments")
    assert len({post["headers"]["idempotency-key"] for post in charges}) == 1, charges
    invoice = await world.invoicing.invoice(INVOICE)
    assert invoice["payment_ids"] == [retried["payment"]["id"]]
