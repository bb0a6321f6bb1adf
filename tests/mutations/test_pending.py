"""Money on its way counts: a pending bank transfer (or a settled payment not yet
recorded) holds its amount on the invoice, so another payment may take only what is
left, a void waits, and no mix of concurrent payments collects more than the total."""

from __future__ import annotations

import asyncio

import httpx

from sandbox.seed import GB_OPEN_INVOICE_ID
from tests.mutations.conftest import World, WorldFactory
from tests.mutations.helpers import Json, codes, major, pay, watch_rows

INVOICE = GB_OPEN_INVOICE_ID

VOID = """
mutation Void($input: VoidInvoiceInput!) {
  voidInvoice(input: $input) {
    invoice { id status amountPending { amount currency } }
    userErrors { code message field }
  }
}
"""


async def void(world: World, key: str, invoice_id: str = INVOICE) -> Json:
    response = await world.client.post(
        "/graphql",
        json={
            "query": VOID,
            "variables": {"input": {"idempotencyKey": key, "invoiceId": invoice_id}},
        },
        headers={"Authorization": f"Bearer {world.token}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    payload: Json = body["data"]["voidInvoice"]
    return payload


async def due_of(world: World) -> int:
    invoice = await world.invoicing.invoice(INVOICE)
    assert invoice["status"] == "open"
    assert invoice["amount_paid"] == 0
    due: int = invoice["amount_due"]
    return due


async def charges(world: World) -> list[Json]:
    return await world.payments.posts("/v1/payments")


async def test_a_pending_transfer_blocks_a_second_full_payment(world_factory: WorldFactory) -> None:
    # given an open invoice paid in full by bank transfer, still pending
    world = await world_factory()
    due = await due_of(world)
    first = await pay(world.client, world.token, "transfer", INVOICE, method="pm_bank_transfer")
    assert codes(first) == [], first
    assert first["payment"]["status"] == "PENDING"
    # the payload shows the invoice as it stands, with the transfer on its way
    assert first["invoice"]["status"] == "OPEN"
    assert first["invoice"]["amountDue"]["amount"] == major(due)
    assert first["invoice"]["amountPending"]["amount"] == major(due)
    (watched,) = await watch_rows(world.engine)
    assert (watched.payment_id, watched.state, watched.amount) == (
        first["payment"]["id"],
        "pending",
        due,
    )

    # when another key pays the whole amount by card, and another by transfer
    card = await pay(world.client, world.token, "card", INVOICE)
    second_transfer = await pay(
        world.client, world.token, "transfer-2", INVOICE, method="pm_bank_transfer"
    )

    # then both are refused, naming the pending amount, and nothing more is charged
    for answer in (card, second_transfer):
        assert codes(answer) == ["PAYMENT_PENDING"], answer
        assert answer["payment"] is None
        assert f"£{major(due)}" in answer["userErrors"][0]["message"].replace(",", "")
        assert answer["userErrors"][0]["field"] == ["input", "invoiceId"]
        assert answer["invoice"]["status"] == "OPEN"
        assert answer["invoice"]["amountPending"]["amount"] == major(due)
    assert len(await charges(world)) == 1
    assert (await world.invoicing.invoice(INVOICE))["amount_paid"] == 0


async def test_a_partial_payment_up_to_the_remainder_is_allowed(
    world_factory: WorldFactory,
) -> None:
    # given a third of the invoice on its way by bank transfer
    world = await world_factory()
    due = await due_of(world)
    part = due // 3
    first = await pay(
        world.client, world.token, "part", INVOICE, amount_minor=part, method="pm_bank_transfer"
    )
    assert codes(first) == [], first
    assert first["invoice"]["amountPending"]["amount"] == major(part)

    # when a card payment asks for one minor unit more than what is left
    over = await pay(world.client, world.token, "over", INVOICE, amount_minor=due - part + 1)

    # then it is refused at the amount, naming what can still be charged
    assert codes(over) == ["PAYMENT_PENDING"], over
    assert over["userErrors"][0]["field"] == ["input", "amount", "amount"]
    assert f"£{major(due - part)}" in over["userErrors"][0]["message"].replace(",", "")

    # and a payment without an amount takes exactly what is left
    rest = await pay(world.client, world.token, "rest", INVOICE)
    assert codes(rest) == [], rest
    assert rest["payment"]["amount"]["amount"] == major(due - part)
    assert rest["invoice"]["amountPaid"]["amount"] == major(due - part)
    assert rest["invoice"]["amountDue"]["amount"] == major(part)
    assert rest["invoice"]["amountPending"]["amount"] == major(part)

    # and then nothing is left to charge
    nothing = await pay(world.client, world.token, "nothing", INVOICE)
    assert codes(nothing) == ["PAYMENT_PENDING"], nothing
    assert "Nothing more can be charged" in nothing["userErrors"][0]["message"]


async def test_void_is_refused_while_a_payment_is_pending(world_factory: WorldFactory) -> None:
    # given an invoice with a pending transfer
    world = await world_factory()
    first = await pay(world.client, world.token, "transfer", INVOICE, method="pm_bank_transfer")
    assert codes(first) == [], first

    # when the invoice is voided
    answer = await void(world, "void-1")

    # then the void is refused, the invoice stays open, and no void was sent
    assert codes(answer) == ["PAYMENT_PENDING"], answer
    assert answer["userErrors"][0]["field"] == ["input", "invoiceId"]
    assert answer["invoice"]["status"] == "OPEN"
    assert (await world.invoicing.invoice(INVOICE))["status"] == "open"
    assert await world.invoicing.posts(f"/v1/invoices/{INVOICE}/void") == []


async def test_void_goes_ahead_once_the_pending_payment_failed(
    world_factory: WorldFactory,
) -> None:
    # given a pending transfer that then failed at the bank
    world = await world_factory()
    first = await pay(world.client, world.token, "transfer", INVOICE, method="pm_bank_transfer")
    await world.payments.settle(first["payment"]["id"], "failed")

    # when the invoice is voided
    answer = await void(world, "void-after-failure")

    # then it is void
    assert codes(answer) == [], answer
    assert answer["invoice"]["status"] == "VOID"


async def test_declined_payment_answers_with_the_invoice(world_factory: WorldFactory) -> None:
    world = await world_factory()
    due = await due_of(world)

    answer = await pay(world.client, world.token, "declined", INVOICE, method="pm_card_declined")

    assert codes(answer) == ["PAYMENT_DECLINED"], answer
    assert answer["payment"]["status"] == "FAILED"
    assert answer["invoice"] == {
        "id": INVOICE,
        "status": "OPEN",
        "amountPaid": {"amount": major(0)},
        "amountDue": {"amount": major(due)},
        "amountPending": {"amount": major(0)},
    }


async def test_concurrent_transfers_and_cards_never_collect_more_than_the_total(
    world_factory: WorldFactory,
) -> None:
    # given an open invoice and a slow payments service, so that requests overlap, on
    # two gateway replicas over one database
    world = await world_factory()
    due = await due_of(world)
    seeded = await world.payments.payment_ids_for(INVOICE)
    other = await world.replica()
    await world.payments.faults(latency_ms=30)

    # when twelve keys race on it: transfers and cards, full and partial amounts
    async def attempt(n: int) -> Json:
        client: httpx.AsyncClient = world.client if n % 2 else other
        method = "pm_bank_transfer" if n % 3 else "pm_card_ok"
        amount = None if n % 4 == 0 else due // 3
        for _ in range(40):
            answer = await pay(
                client, world.token, f"race-{n}", INVOICE, amount_minor=amount, method=method
            )
            if codes(answer) != ["PAYMENT_IN_PROGRESS"]:
                return answer
            await asyncio.sleep(0.05)
        raise AssertionError("still in progress after 40 tries")

    answers = await asyncio.gather(*(attempt(n) for n in range(12)))

    # then what was collected or is on its way never exceeds the invoice's total
    taken = [
        p
        for p in await world.payments.payments_for(INVOICE, besides=seeded)
        if p["status"] in ("succeeded", "pending")
    ]
    assert sum(p["amount"] for p in taken) <= due, taken
    assert taken, answers
    for answer in answers:
        # (refused once it was paid, or once less was due than asked)
        assert codes(answer) in (
            [],
            ["PAYMENT_PENDING"],
            ["INVALID_STATE"],
            ["AMOUNT_EXCEEDS_DUE"],
        ), answer
    invoice = await world.invoicing.invoice(INVOICE)
    pending = sum(p["amount"] for p in taken if p["status"] == "pending")
    assert invoice["amount_paid"] + pending <= invoice["total"]
