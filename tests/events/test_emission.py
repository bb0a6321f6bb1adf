"""Each mutation and settlement step writes exactly its events, in the transaction that
stores its outcome: through the gateway (in-process, production settings) against the
sandbox services, on SQLite and on PostgreSQL. A replay writes none; a refusal or a
failed step writes none; no personal data leaves in an event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tables import domain_events
from sandbox.seed import GB_BUSINESS_ID, GB_DRAFT_INVOICE_ID, GB_OPEN_INVOICE_ID
from tests.e2e.mutation_helpers import (
    CREATE_CUSTOMER,
    CREATE_INVOICE,
    FINALIZE_INVOICE,
    PAY_INVOICE,
    REFUND_PAYMENT,
    VOID_INVOICE,
    Spec,
    mutate,
    valid_input,
)
from tests.mutations.conftest import World, WorldFactory
from tests.mutations.helpers import codes, eventually, major, pay, watch_rows
from tests.mutations.test_recovery import void_after_charge

FAST_SETTLEMENT = {
    "settlement_poll_seconds": 0.05,
    "settlement_interval_seconds": 0.05,
    "settlement_max_backoff_seconds": 0.3,
}


async def recorded(engine: AsyncEngine) -> list[tuple[str, str, int, dict[str, Any]]]:
    """(type, subject, sequence, data) of every event, in recording order; each is the
    GB business's."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(select(domain_events).order_by(domain_events.c.position))
        ).all()
    assert {row.business_id for row in rows} <= {GB_BUSINESS_ID}
    return [(row.type, row.subject, row.sequence, row.data) for row in rows]


def gbp(minor: int) -> dict[str, str]:
    return {"amount": str(minor), "currency": "GBP"}


async def run(world: World, spec: Spec, key: str, **changes: object) -> dict[str, Any]:
    return await mutate(world.client, spec, world.token, valid_input(spec, key, **changes))


async def test_create_customer_writes_its_id_only_and_a_replay_writes_nothing(
    world_factory: WorldFactory,
) -> None:
    # Given a gateway; when a customer is created
    world = await world_factory()
    payload = await run(world, CREATE_CUSTOMER, "c-1")
    customer_id = payload["customer"]["id"]

    # Then one customer.created, with the id only (no name, email or phone)
    assert await recorded(world.engine) == [
        ("customer.created", customer_id, 1, {"id": customer_id})
    ]

    # When the same request is replayed
    again = await run(world, CREATE_CUSTOMER, "c-1")

    # Then it is answered from the store and no event is added
    assert again["replayed"] is True
    assert len(await recorded(world.engine)) == 1


async def test_invoice_lifecycle_events_carry_status_and_money(
    world_factory: WorldFactory,
) -> None:
    # Given a gateway; when an invoice is created, a draft finalized and an invoice voided
    world = await world_factory()
    created = (await run(world, CREATE_INVOICE, "i-1"))["invoice"]
    await run(world, FINALIZE_INVOICE, "f-1")
    await run(world, VOID_INVOICE, "v-1")

    # Then one event each, for the invoice it changed, with its money as minor units
    draft = await world.invoicing.invoice(GB_DRAFT_INVOICE_ID)
    voided = await world.invoicing.invoice(GB_OPEN_INVOICE_ID)
    total = int(created["total"]["amount"].replace(".", ""))
    assert await recorded(world.engine) == [
        (
            "invoice.created",
            created["id"],
            1,
            {
                "id": created["id"],
                "status": "draft",
                "customer_id": created["customer"]["id"],
                "total": gbp(total),
                "amount_paid": gbp(0),
                "amount_due": gbp(total),
            },
        ),
        (
            "invoice.finalized",
            GB_DRAFT_INVOICE_ID,
            1,
            {
                "id": GB_DRAFT_INVOICE_ID,
                "status": "open",
                "customer_id": draft["customer_id"],
                "total": gbp(draft["total"]),
                "amount_paid": gbp(draft["amount_paid"]),
                "amount_due": gbp(draft["amount_due"]),
            },
        ),
        (
            "invoice.voided",
            GB_OPEN_INVOICE_ID,
            1,
            {
                "id": GB_OPEN_INVOICE_ID,
                "status": "void",
                "customer_id": voided["customer_id"],
                "total": gbp(voided["total"]),
                "amount_paid": gbp(voided["amount_paid"]),
                "amount_due": gbp(voided["amount_due"]),
            },
        ),
    ]


async def test_a_refused_or_failed_mutation_writes_no_event(world_factory: WorldFactory) -> None:
    # Given a gateway
    world = await world_factory()

    # When finalizing an invoice that is already open is refused (a stored outcome) ...
    refused = await run(world, FINALIZE_INVOICE, "f-open", invoiceId=GB_OPEN_INVOICE_ID)
    assert codes(refused) == ["INVALID_STATE"]
    # ... a missing invoice is refused (the key forgotten) ...
    missing = await run(world, VOID_INVOICE, "v-missing", invoiceId="inv_GB9999")
    assert codes(missing) == ["NOT_FOUND"]
    # ... and creating a customer fails on a service that answers 503
    await world.invoicing.faults(fail_next=100, fail_status=503, path_prefix="/v1/customers")
    failed = await run(world, CREATE_CUSTOMER, "c-down")
    assert codes(failed) == ["DOWNSTREAM_UNAVAILABLE"]

    # Then nothing changed, and no event was written
    assert await recorded(world.engine) == []


async def test_a_refund_writes_refund_succeeded(world_factory: WorldFactory) -> None:
    # When a payment is partly refunded
    world = await world_factory()
    refund = (await run(world, REFUND_PAYMENT, "r-1"))["refund"]

    # Then refund.succeeded, naming the payment, with the amount
    assert await recorded(world.engine) == [
        (
            "refund.succeeded",
            refund["id"],
            1,
            {
                "id": refund["id"],
                "status": "succeeded",
                "payment_id": refund["payment"]["id"],
                "amount": gbp(1250),
            },
        )
    ]


async def test_paying_in_full_writes_payment_succeeded_then_invoice_paid(
    world_factory: WorldFactory,
) -> None:
    # Given an open invoice; when it is paid in full by card
    world = await world_factory()
    due = (await world.invoicing.invoice(GB_OPEN_INVOICE_ID))["amount_due"]
    payload = await pay(world.client, world.token, "p-1", GB_OPEN_INVOICE_ID)
    assert codes(payload) == []
    payment_id = payload["payment"]["id"]

    # Then the payment succeeded, and the invoice is paid: amount due zero
    events = await recorded(world.engine)
    assert [(kind, subject, seq) for kind, subject, seq, _ in events] == [
        ("payment.succeeded", payment_id, 1),
        ("invoice.paid", GB_OPEN_INVOICE_ID, 1),
    ]
    assert events[0][3] == {
        "id": payment_id,
        "status": "succeeded",
        "invoice_id": GB_OPEN_INVOICE_ID,
        "amount": gbp(due),
    }
    assert events[1][3]["status"] == "paid"
    assert events[1][3]["amount_due"] == gbp(0)

    # And a replay of the payment adds nothing
    again = await pay(world.client, world.token, "p-1", GB_OPEN_INVOICE_ID)
    assert again["replayed"] is True
    assert len(await recorded(world.engine)) == 2


async def test_a_part_payment_does_not_pay_the_invoice(world_factory: WorldFactory) -> None:
    world = await world_factory()
    payload = await run(world, PAY_INVOICE, "p-part")
    assert payload["payment"]["amount"]["amount"] == major(1250)

    assert [kind for kind, *_ in await recorded(world.engine)] == ["payment.succeeded"]


async def test_a_declined_card_writes_payment_failed(world_factory: WorldFactory) -> None:
    world = await world_factory()
    payload = await pay(
        world.client, world.token, "p-declined", GB_OPEN_INVOICE_ID, method="pm_card_declined"
    )
    assert codes(payload) == ["PAYMENT_DECLINED"]

    ((kind, subject, seq, data),) = await recorded(world.engine)
    assert (kind, subject, seq, data["status"]) == (
        "payment.failed",
        payload["payment"]["id"],
        1,
        "failed",
    )


async def test_a_transfer_is_pending_then_settles_into_succeeded_and_paid(
    world_factory: WorldFactory,
) -> None:
    # Given a bank transfer for the whole invoice, pending
    world = await world_factory(**FAST_SETTLEMENT)
    payload = await pay(
        world.client, world.token, "t-1", GB_OPEN_INVOICE_ID, method="pm_bank_transfer"
    )
    payment_id = payload["payment"]["id"]
    assert [(k, s, n) for k, s, n, _ in await recorded(world.engine)] == [
        ("payment.pending", payment_id, 1)
    ]

    # When the bank settles it and the settler records it on the invoice
    await world.payments.settle(payment_id, "succeeded")

    async def done() -> bool:
        return all(row.state == "done" for row in await watch_rows(world.engine))

    await eventually(done, within=15, what="the transfer to be recorded")

    # Then the payment's next event is succeeded (sequence 2), and the invoice is paid
    assert [(k, s, n) for k, s, n, _ in await recorded(world.engine)] == [
        ("payment.pending", payment_id, 1),
        ("payment.succeeded", payment_id, 2),
        ("invoice.paid", GB_OPEN_INVOICE_ID, 1),
    ]


async def test_a_transfer_that_fails_writes_payment_failed(world_factory: WorldFactory) -> None:
    world = await world_factory(**FAST_SETTLEMENT)
    payload = await pay(
        world.client, world.token, "t-2", GB_OPEN_INVOICE_ID, method="pm_bank_transfer"
    )
    payment_id = payload["payment"]["id"]

    await world.payments.settle(payment_id, "failed")

    async def done() -> bool:
        return all(row.state == "done" for row in await watch_rows(world.engine))

    await eventually(done, within=15, what="the transfer to fail")
    assert [(k, s, n) for k, s, n, _ in await recorded(world.engine)] == [
        ("payment.pending", payment_id, 1),
        ("payment.failed", payment_id, 2),
    ]


async def test_a_compensated_payment_writes_succeeded_then_its_refund(
    world_factory: WorldFactory,
) -> None:
    # Given an invoice voided (on the invoicing service directly) right after the charge
    world = await world_factory(wrap=void_after_charge)

    # When it is paid: the recording is refused and the charge refunded in full
    payload = await pay(world.client, world.token, "p-voided", GB_OPEN_INVOICE_ID)
    assert codes(payload) == ["INVALID_STATE"]
    payment_id = payload["payment"]["id"]
    (refund,) = await world.payments.refunds_for(payment_id)

    # Then the payment succeeded and its refund succeeded, and the void (not the
    # gateway's) and the unpaid invoice write nothing
    events = await recorded(world.engine)
    assert [(k, s, n) for k, s, n, _ in events] == [
        ("payment.succeeded", payment_id, 1),
        ("refund.succeeded", refund["id"], 1),
    ]
    assert events[1][3] == {
        "id": refund["id"],
        "status": "succeeded",
        "payment_id": payment_id,
        "amount": gbp(refund["amount"]),
    }


async def test_a_settled_transfer_its_invoice_refuses_is_refunded_with_an_event(
    world_factory: WorldFactory,
) -> None:
    # Given a pending transfer, and its invoice voided meanwhile (on the service directly)
    world = await world_factory(**FAST_SETTLEMENT)
    payload = await pay(
        world.client, world.token, "t-3", GB_OPEN_INVOICE_ID, method="pm_bank_transfer"
    )
    payment_id = payload["payment"]["id"]
    voided = await world.invoicing.write(f"/v1/invoices/{GB_OPEN_INVOICE_ID}/void")
    assert voided.status_code == 200, voided.text

    # When the transfer settles: the invoice refuses it, the settler refunds it
    await world.payments.settle(payment_id, "succeeded")

    async def done() -> bool:
        return all(row.state == "done" for row in await watch_rows(world.engine))

    await eventually(done, within=15, what="the transfer to be refunded")

    # Then pending, succeeded, and the refund; the invoice is not paid
    (refund,) = await world.payments.refunds_for(payment_id)
    assert [(k, s, n) for k, s, n, _ in await recorded(world.engine)] == [
        ("payment.pending", payment_id, 1),
        ("payment.succeeded", payment_id, 2),
        ("refund.succeeded", refund["id"], 1),
    ]
