"""payInvoice under concurrency: one key sent twenty times at once charges once; ten keys
racing on one invoice never collect more than it is owed."""

from __future__ import annotations

import asyncio

import pytest

from sandbox.seed import GB_OPEN_INVOICE_ID
from tests.mutations.conftest import ISSUER, SUBJECT, WorldFactory
from tests.mutations.helpers import Json, codes, lock_rows, minor, pay, record_key_of


async def test_twenty_identical_requests_charge_exactly_once(
    world_factory: WorldFactory,
) -> None:
    # given an open invoice, nothing paid, and a slow payments service so requests overlap
    world = await world_factory()
    before = await world.invoicing.invoice(GB_OPEN_INVOICE_ID)
    assert (before["status"], before["amount_paid"]) == ("open", 0)
    seeded = await world.payments.payment_ids_for(GB_OPEN_INVOICE_ID)
    await world.payments.faults(latency_ms=50)

    # when twenty identical requests (same key, same input) arrive at once
    answers = await asyncio.gather(
        *(pay(world.client, world.token, "twins-1", GB_OPEN_INVOICE_ID) for _ in range(20))
    )

    # then every answer is the one payment or "key in use"; never a second payment
    paid = [a for a in answers if a["payment"] is not None]
    busy = [a for a in answers if a["payment"] is None]
    assert paid, answers
    for answer in busy:
        assert codes(answer) == ["IDEMPOTENCY_KEY_IN_USE"], answer
        assert answer["invoice"] is None
    payment_ids = {a["payment"]["id"] for a in paid}
    assert len(payment_ids) == 1, payment_ids
    for answer in paid:
        assert codes(answer) == [], answer
        assert answer["payment"]["status"] == "SUCCEEDED"
        assert answer["invoice"]["status"] == "PAID"
    # exactly one request did the work; the others that got a payment were replays
    assert [a["replayed"] for a in paid].count(False) == 1, [a["replayed"] for a in paid]
    # the requests really overlapped: some met the first one still running
    assert busy, "no request overlapped the first one: the test proved nothing"

    # and downstream there is exactly one charge, sent once, recorded once
    (payment_id,) = payment_ids
    payments = await world.payments.payments_for(GB_OPEN_INVOICE_ID, besides=seeded)
    assert [p["id"] for p in payments] == [payment_id]
    assert payments[0]["status"] == "succeeded"
    assert payments[0]["amount"] == before["amount_due"]
    assert len(await world.payments.posts("/v1/payments")) == 1
    records = await world.invoicing.posts(f"/v1/invoices/{GB_OPEN_INVOICE_ID}/payments")
    assert [r["headers"]["idempotency-key"] for r in records] == [
        record_key_of(ISSUER, SUBJECT, "twins-1", "record")
    ]
    after = await world.invoicing.invoice(GB_OPEN_INVOICE_ID)
    assert (after["status"], after["amount_paid"], after["payment_ids"]) == (
        "paid",
        before["total"],
        [payment_id],
    )
    assert await lock_rows(world.engine) == []

    # and a later retry of the key replays the same payment, sending nothing
    again = await pay(world.client, world.token, "twins-1", GB_OPEN_INVOICE_ID)
    assert (again["replayed"], again["payment"]["id"], codes(again)) == (True, payment_id, [])
    assert len(await world.payments.posts("/v1/payments")) == 1


# Each racer asks for this share of the invoice total (None: the whole amount due).
SHARES = [
    pytest.param(None, id="whole-amount-due"),
    pytest.param(40, id="40-percent-each"),
    pytest.param(60, id="60-percent-each"),
]
LOSER_CODES = {"PAYMENT_IN_PROGRESS", "INVALID_STATE", "AMOUNT_EXCEEDS_DUE"}


@pytest.mark.parametrize("share", SHARES)
async def test_ten_keys_racing_never_overpay(
    world_factory: WorldFactory, share: int | None
) -> None:
    # given an open invoice and ten payers with their own keys, together asking for
    # far more than is due (unless each asks for "the amount due")
    world = await world_factory()
    invoice = await world.invoicing.invoice(GB_OPEN_INVOICE_ID)
    total = int(invoice["total"])
    amount = None if share is None else total * share // 100
    seeded = await world.payments.payment_ids_for(GB_OPEN_INVOICE_ID)
    await world.payments.faults(latency_ms=50)

    async def racer(index: int) -> Json:
        # Staggered a little: some meet a payment in flight, some come after one.
        await asyncio.sleep(index * 0.02)
        return await pay(
            world.client, world.token, f"racer-{index}", GB_OPEN_INVOICE_ID, amount_minor=amount
        )

    # when they all pay at (nearly) the same time
    answers = await asyncio.gather(*(racer(i) for i in range(10)))

    # then each either paid (a succeeded payment, no error) or lost with a business code
    winners = [a for a in answers if not a["userErrors"]]
    losers = [a for a in answers if a["userErrors"]]
    assert winners, answers
    for answer in winners:
        assert answer["payment"]["status"] == "SUCCEEDED", answer
        assert answer["replayed"] is False
    for answer in losers:
        (code,) = codes(answer)
        assert code in LOSER_CODES, answer
        assert answer["payment"] is None, answer
    assert any(codes(a) == ["PAYMENT_IN_PROGRESS"] for a in losers), "no racer met the lock"

    # and the money adds up: every charge belongs to a winner, none was refunded, the
    # succeeded total never exceeds the invoice, and the invoice recorded exactly them
    winner_ids = sorted(a["payment"]["id"] for a in winners)
    payments = await world.payments.payments_for(GB_OPEN_INVOICE_ID, besides=seeded)
    assert sorted(p["id"] for p in payments) == winner_ids
    assert all(p["status"] == "succeeded" and p["amount_refunded"] == 0 for p in payments)
    collected = sum(int(p["amount"]) for p in payments)
    assert collected <= total
    for answer in winners:
        assert minor(answer["payment"]["amount"]["amount"]) == (amount or total)
    after = await world.invoicing.invoice(GB_OPEN_INVOICE_ID)
    assert int(after["amount_paid"]) == collected
    assert sorted(after["payment_ids"]) == winner_ids
    assert after["status"] == ("paid" if collected == total else "open")
    if share is None or share == 60:
        assert len(winners) == 1
    else:
        assert 1 <= len(winners) <= 2
    # and the invoice is free again
    assert await lock_rows(world.engine) == []
