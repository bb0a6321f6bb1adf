"""Settlement: a pending bank transfer the gateway took is watched until it settles. The
settler records a settled one on its invoice once, frees the invoice when one fails, and
refunds one its invoice refuses (voided, or paid by other means meanwhile)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.db.tables import payment_watch
from app.wiring.background import build_settler
from app.wiring.resources import open_resources
from sandbox.seed import GB_OPEN_INVOICE_ID
from tests.mutations.conftest import ISSUER, SUBJECT, World, WorldFactory
from tests.mutations.helpers import (
    Json,
    codes,
    eventually,
    major,
    pay,
    record_key_of,
    utcnow,
    watch_rows,
)

INVOICE = GB_OPEN_INVOICE_ID
RECORD_PATH = f"/v1/invoices/{INVOICE}/payments"
# The settler looks often in these tests; the backoff stays short.
FAST = {
    "settlement_poll_seconds": 0.05,
    "settlement_interval_seconds": 0.05,
    "settlement_max_backoff_seconds": 0.3,
}


async def transfer(world: World, key: str = "transfer", amount: int | None = None) -> Json:
    answer = await pay(
        world.client, world.token, key, INVOICE, method="pm_bank_transfer", amount_minor=amount
    )
    assert codes(answer) == [], answer
    assert answer["payment"]["status"] == "PENDING"
    return answer


async def watched_outcome(world: World, payment_id: str) -> tuple[str, str | None]:
    (row,) = [r for r in await watch_rows(world.engine) if r.payment_id == payment_id]
    return row.state, row.outcome


async def until_done(world: World, payment_id: str) -> str | None:
    async def done() -> bool:
        return (await watched_outcome(world, payment_id))[0] == "done"

    await eventually(done, within=15, what=f"{payment_id} to be settled")
    return (await watched_outcome(world, payment_id))[1]


async def test_a_settled_transfer_is_recorded_once(world_factory: WorldFactory) -> None:
    # given a pending transfer for the whole invoice, watched by the gateway
    world = await world_factory(**FAST)
    taken = await transfer(world)
    payment_id = taken["payment"]["id"]
    await asyncio.sleep(0.3)  # the settler looks a few times: still pending
    assert await watched_outcome(world, payment_id) == ("pending", None)
    assert await world.invoicing.posts(RECORD_PATH) == []

    # when the bank settles it
    await world.payments.settle(payment_id, "succeeded")

    # then the settler records it on the invoice, which is now paid
    assert await until_done(world, payment_id) == "recorded"
    invoice = await world.invoicing.invoice(INVOICE)
    assert invoice["status"] == "paid"
    assert invoice["payment_ids"] == [payment_id]
    assert invoice["amount_paid"] == invoice["total"]
    # once, with a key derived from the saga's, on behalf of the user who paid
    (record,) = await world.invoicing.posts(RECORD_PATH)
    assert record["headers"]["idempotency-key"] == record_key_of(
        ISSUER, SUBJECT, "transfer", "settle_record"
    )
    assert record["headers"]["x-actor-id"] == SUBJECT
    assert record["headers"]["x-request-id"].startswith("settle-")

    # and nothing more is pending or can be charged
    again = await pay(world.client, world.token, "after", INVOICE)
    assert codes(again) == ["INVALID_STATE"], again
    assert again["invoice"]["amountPending"]["amount"] == major(0)


async def test_a_failed_transfer_frees_the_invoice(world_factory: WorldFactory) -> None:
    # given a pending transfer that blocks another payment
    world = await world_factory(**FAST)
    taken = await transfer(world)
    payment_id = taken["payment"]["id"]
    blocked = await pay(world.client, world.token, "card-1", INVOICE)
    assert codes(blocked) == ["PAYMENT_PENDING"], blocked

    # when the transfer fails at the bank
    await world.payments.settle(payment_id, "failed")

    # then the watch ends with nothing recorded, and the invoice can be paid again
    assert await until_done(world, payment_id) == "failed"
    assert await world.invoicing.posts(RECORD_PATH) == []
    card = await pay(world.client, world.token, "card-2", INVOICE)
    assert codes(card) == [], card
    assert card["invoice"]["status"] == "PAID"


@pytest.mark.parametrize("meanwhile", ["voided", "paid by other means"])
async def test_a_transfer_the_invoice_refuses_is_refunded(
    world_factory: WorldFactory, meanwhile: str
) -> None:
    # given a pending transfer
    world = await world_factory(**FAST)
    taken = await transfer(world)
    payment_id = taken["payment"]["id"]

    # and the invoice changed at the invoicing service directly (not through the gateway)
    if meanwhile == "voided":
        response = await world.invoicing.write(f"/v1/invoices/{INVOICE}/void")
        assert response.status_code == 200, response.text
    else:
        invoice = await world.invoicing.invoice(INVOICE)
        charged = await world.payments.write(
            "/v1/payments",
            {
                "business_id": invoice["business_id"],
                "invoice_id": INVOICE,
                "amount": invoice["amount_due"],
                "currency": invoice["currency"],
                "payment_method": "pm_card_ok",
            },
        )
        assert charged.status_code == 201, charged.text
        other = charged.json()["id"]
        recorded = await world.invoicing.write(
            RECORD_PATH,
            {"payment_id": other, "amount": invoice["amount_due"], "currency": "GBP"},
        )
        assert recorded.status_code == 200, recorded.text

    # when the transfer settles
    await world.payments.settle(payment_id, "succeeded")

    # then the invoice refuses it and the settler refunds it in full, once
    assert await until_done(world, payment_id) == "refunded"
    (refund,) = await world.payments.refunds_for(payment_id)
    assert refund["amount"] == taken_amount(taken)
    assert refund["status"] == "succeeded"
    invoice = await world.invoicing.invoice(INVOICE)
    assert payment_id not in invoice.get("payment_ids", [])


def taken_amount(answer: Json) -> int:
    return int(answer["payment"]["amount"]["amount"].replace(".", ""))


async def test_two_gateways_record_a_settled_transfer_once(world_factory: WorldFactory) -> None:
    # given two gateways over one database, both settling
    world = await world_factory(**FAST)
    await world.replica()
    taken = await transfer(world)
    payment_id = taken["payment"]["id"]

    # when the transfer settles
    await world.payments.settle(payment_id, "succeeded")

    # then it is recorded once, every attempt with the same key
    assert await until_done(world, payment_id) == "recorded"
    await asyncio.sleep(0.3)
    records = await world.invoicing.posts(RECORD_PATH)
    assert {r["headers"]["idempotency-key"] for r in records} == {
        record_key_of(ISSUER, SUBJECT, "transfer", "settle_record")
    }
    assert (await world.invoicing.invoice(INVOICE))["payment_ids"] == [payment_id]


async def test_a_recording_that_fails_for_a_while_is_retried_with_the_same_key(
    world_factory: WorldFactory,
) -> None:
    # given a settled transfer whose recording fails three times
    world = await world_factory(**FAST)
    taken = await transfer(world)
    payment_id = taken["payment"]["id"]
    await world.invoicing.faults(fail_next=3, fail_status=503, path_prefix=RECORD_PATH)
    await world.payments.settle(payment_id, "succeeded")

    # then it is recorded in the end, once, all attempts under one key
    assert await until_done(world, payment_id) == "recorded"
    records = await world.invoicing.posts(RECORD_PATH)
    assert len(records) >= 2
    assert len({r["headers"]["idempotency-key"] for r in records}) == 1
    assert (await world.invoicing.invoice(INVOICE))["payment_ids"] == [payment_id]


async def test_a_payment_not_as_taken_is_never_acted_on(world_factory: WorldFactory) -> None:
    # given a watched transfer whose row says another amount than the service (a lying
    # service, or a row tampered with): the settler must not record on its strength
    world = await world_factory(**FAST)
    taken = await transfer(world)
    payment_id = taken["payment"]["id"]
    async with world.engine.begin() as connection:
        await connection.execute(
            update(payment_watch)
            .where(payment_watch.c.payment_id == payment_id)
            .values(amount=payment_watch.c.amount + 1)
        )

    # when it settles
    await world.payments.settle(payment_id, "succeeded")
    await asyncio.sleep(0.5)

    # then nothing is recorded and it stays watched
    assert await world.invoicing.posts(RECORD_PATH) == []
    assert (await watched_outcome(world, payment_id))[0] == "pending"


async def test_an_old_pending_payment_is_alerted_and_measured(
    world_factory: WorldFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # given a pending transfer taken six days ago (the alert is at five)
    world = await world_factory()
    taken = await transfer(world)
    payment_id = taken["payment"]["id"]
    async with world.engine.begin() as connection:
        await connection.execute(
            update(payment_watch)
            .where(payment_watch.c.payment_id == payment_id)
            .values(taken_at=utcnow() - timedelta(days=6))
        )
    async with open_resources(world.settings, world.transports) as resources:
        settler = build_settler(resources, resources.regions.all[0])

        # when the settler reviews its watch list, twice
        with caplog.at_level(logging.ERROR, logger="gateway.settlement"):
            await settler.watch_list()
            await settler.watch_list()

        # then the payment is reported once (not every round), and measured
        alerts = [r for r in caplog.records if r.getMessage() == "payment pending for too long"]
        assert len(alerts) == 1
        assert alerts[0].payment_id == payment_id  # type: ignore[attr-defined]
        # (within a minute: the wall clock may be stepped between the write and the read;
        # CI once read 518399 s)
        assert abs(alerts[0].age_seconds - 6 * 86_400) <= 60  # type: ignore[attr-defined]
        registry = resources.metrics.registry
        assert registry.get_sample_value("gateway_pending_payments", {"service": "payments"}) == 1
        oldest = registry.get_sample_value(
            "gateway_pending_payment_oldest_age_seconds", {"service": "payments"}
        )
        assert oldest is not None
        assert oldest >= 6 * 86_400
