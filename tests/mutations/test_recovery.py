"""payInvoice when a downstream step fails part-way: a recording that fails for a while
is finished by the relay; a recording refused for good is compensated with a refund; a
lost charge answer is resumed with the same downstream key; the payment lock is released
in every terminal case and held while a saga is unfinished."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest

from app.mutations.pay_invoice import OUTBOX_KIND
from sandbox.seed import GB_DRAFT_INVOICE_ID, GB_OPEN_INVOICE_ID
from tests.mutations.conftest import ISSUER, SUBJECT, World, WorldFactory
from tests.mutations.helpers import (
    Json,
    Sandbox,
    codes,
    key_rows,
    lock_rows,
    minor,
    outbox_rows,
    pay,
    record_key_of,
    utcnow,
)
from tests.mutations.transports import AfterFirstCharge

INVOICE = GB_OPEN_INVOICE_ID
RECORD_PATH = f"/v1/invoices/{INVOICE}/payments"
PAST_GRACE = timedelta(seconds=31)  # the default RELAY_GRACE_SECONDS is 30


async def fail_recording(world: World, times: int) -> None:
    await world.invoicing.faults(
        fail_next=times, fail_status=500, path_prefix=RECORD_PATH, method="POST"
    )


async def assert_paused_after_charge(world: World, answer: Json, key: str) -> str:
    """The answer and the database of a saga that charged but could not record yet."""
    assert codes(answer) == ["DOWNSTREAM_UNAVAILABLE"], answer
    assert answer["payment"]["status"] == "SUCCEEDED"
    assert answer["invoice"] is None
    assert answer["replayed"] is False
    invoice = await world.invoicing.invoice(INVOICE)
    assert (invoice["status"], invoice["amount_paid"]) == ("open", 0)
    (row,) = await outbox_rows(world.engine)
    assert row.kind == OUTBOX_KIND
    assert row.completed_at is None
    assert row.payload["key"] == key
    assert row.payload["actor_id"] == SUBJECT
    (lock,) = await lock_rows(world.engine)
    assert (lock.invoice_id, lock.idempotency_key) == (INVOICE, key)
    (key_row,) = await key_rows(world.engine)
    assert (key_row.status, key_row.recovery_point) == ("in_progress", "charged")
    # released, not held: a retry (or the relay) may resume at once
    assert key_row.lease_expires_at <= utcnow()
    payment_id: str = answer["payment"]["id"]
    return payment_id


# -- 3: recording fails for a while ----------------------------------------------------------


async def test_relay_finishes_a_recording_that_failed_transiently(
    world_factory: WorldFactory,
) -> None:
    # given an invoicing service that fails the recording of payments with 500 for a while
    world = await world_factory()
    seeded = await world.payments.payment_ids_for(INVOICE)
    await fail_recording(world, times=3)

    # when the invoice is paid
    answer = await pay(world.client, world.token, "flaky-record", INVOICE)

    # then the payment was taken, the recording is pending, and the saga is parked
    payment_id = await assert_paused_after_charge(world, answer, "flaky-record")

    # when the service recovers and the relay runs (after the grace)
    await world.invoicing.clear_faults()
    relay = await world.relay(outbox_ahead=PAST_GRACE)
    assert await relay.run_once() == 1

    # then the invoice is paid with that one charge, recorded with the saga's own key
    invoice = await world.invoicing.invoice(INVOICE)
    assert (invoice["status"], invoice["payment_ids"]) == ("paid", [payment_id])
    assert invoice["amount_paid"] == invoice["total"]
    assert [p["id"] for p in await world.payments.payments_for(INVOICE, besides=seeded)] == [
        payment_id
    ]
    assert len(await world.payments.posts("/v1/payments")) == 1
    records = await world.invoicing.posts(RECORD_PATH)
    assert len(records) == 2  # the request's failed attempt, the relay's successful one
    assert {r["headers"]["idempotency-key"] for r in records} == {
        record_key_of(ISSUER, SUBJECT, "flaky-record", "record")
    }
    assert records[-1]["headers"]["x-request-id"].startswith("relay-")
    assert records[-1]["headers"]["x-actor-id"] == SUBJECT
    (row,) = await outbox_rows(world.engine)
    assert row.completed_at is not None
    assert await lock_rows(world.engine) == []

    # and nothing is left for a later round
    assert await relay.run_once() == 0

    # when the client retries with the same key
    again = await pay(world.client, world.token, "flaky-record", INVOICE)

    # then it gets the final result, replayed, and nothing is sent downstream
    assert again["replayed"] is True
    assert codes(again) == []
    assert again["payment"]["id"] == payment_id
    assert again["invoice"]["status"] == "PAID"
    assert len(await world.payments.posts("/v1/payments")) == 1
    assert len(await world.invoicing.posts(RECORD_PATH)) == 2


async def test_client_retry_resumes_at_charged_without_charging_again(
    world_factory: WorldFactory,
) -> None:
    # given a saga parked after its charge (the recording fails twice)
    world = await world_factory()
    seeded = await world.payments.payment_ids_for(INVOICE)
    await fail_recording(world, times=2)
    first = await pay(world.client, world.token, "retry-me", INVOICE)
    payment_id = await assert_paused_after_charge(world, first, "retry-me")

    # when the client retries while the recording still fails
    second = await pay(world.client, world.token, "retry-me", INVOICE)

    # then it is the same payment, still pending its recording, and no new charge
    assert codes(second) == ["DOWNSTREAM_UNAVAILABLE"]
    assert second["payment"]["id"] == payment_id

    # when it retries once the service is back
    third = await pay(world.client, world.token, "retry-me", INVOICE)

    # then the saga finished from where it stopped: one charge, recorded, invoice paid
    assert codes(third) == [], third
    assert third["payment"]["id"] == payment_id
    assert third["invoice"]["status"] == "PAID"
    assert len(await world.payments.posts("/v1/payments")) == 1
    assert [p["id"] for p in await world.payments.payments_for(INVOICE, besides=seeded)] == [
        payment_id
    ]
    records = await world.invoicing.posts(RECORD_PATH)
    assert len(records) == 3
    assert {r["headers"]["idempotency-key"] for r in records} == {
        record_key_of(ISSUER, SUBJECT, "retry-me", "record")
    }
    # and the outbox row is done: the relay has nothing to resume
    (row,) = await outbox_rows(world.engine)
    assert row.completed_at is not None
    relay = await world.relay(outbox_ahead=PAST_GRACE)
    assert await relay.run_once() == 0
    assert await lock_rows(world.engine) == []


async def test_the_lock_is_held_while_a_saga_is_unfinished(
    world_factory: WorldFactory,
) -> None:
    # given a saga parked after its charge (recording keeps failing)
    world = await world_factory()
    await fail_recording(world, times=1000)
    first = await pay(world.client, world.token, "first-payer", INVOICE)
    payment_id = await assert_paused_after_charge(world, first, "first-payer")

    # when another key tries to pay the same invoice
    other = await pay(world.client, world.token, "second-payer", INVOICE)

    # then it is told a payment is in progress, and nothing is charged for it
    assert codes(other) == ["PAYMENT_IN_PROGRESS"], other
    assert other["payment"] is None
    assert len(await world.payments.posts("/v1/payments")) == 1

    # when the first saga is finished by the relay
    await world.invoicing.clear_faults()
    relay = await world.relay(outbox_ahead=PAST_GRACE)
    assert await relay.run_once() == 1

    # then the other key gets a definitive refusal (paid), not "in progress"
    late = await pay(world.client, world.token, "third-payer", INVOICE)
    assert codes(late) == ["INVALID_STATE"], late
    assert late["payment"] is None
    invoice = await world.invoicing.invoice(INVOICE)
    assert invoice["payment_ids"] == [payment_id]
    assert len(await world.payments.posts("/v1/payments")) == 1


# -- 4: recording refused for good: compensation -------------------------------------------


async def test_invoice_voided_between_charge_and_record_is_compensated(
    world_factory: WorldFactory,
) -> None:
    # given an invoice that someone voids right after our charge went through
    world = await world_factory(wrap=void_after_charge)
    seeded = await world.payments.payment_ids_for(INVOICE)

    # when the invoice is paid
    answer = await pay(world.client, world.token, "voided-meanwhile", INVOICE)

    # then the recording was refused, the charge refunded in full, and the caller told so
    assert codes(answer) == ["INVALID_STATE"], answer
    payment = answer["payment"]
    assert payment["status"] == "SUCCEEDED"
    assert payment["amountRefunded"] == payment["amount"]
    assert answer["invoice"]["status"] == "VOID"
    assert answer["replayed"] is False

    # and downstream: one charge, one refund of all of it, with the saga's own keys
    (charged,) = await world.payments.payments_for(INVOICE, besides=seeded)
    assert charged["id"] == payment["id"]
    assert charged["amount_refunded"] == charged["amount"] == minor(payment["amount"]["amount"])
    (refund,) = await world.payments.refunds_for(charged["id"])
    assert refund["amount"] == charged["amount"]
    refund_posts = await world.payments.posts(f"/v1/payments/{charged['id']}/refunds")
    assert [p["headers"]["idempotency-key"] for p in refund_posts] == [
        record_key_of(ISSUER, SUBJECT, "voided-meanwhile", "compensate")
    ]
    assert len(await world.payments.posts("/v1/payments")) == 1
    invoice = await world.invoicing.invoice(INVOICE)
    assert (invoice["status"], invoice["amount_paid"], invoice["payment_ids"]) == ("void", 0, [])
    assert await lock_rows(world.engine) == []
    assert all(row.completed_at is not None for row in await outbox_rows(world.engine))

    # when the client retries with the same key
    again = await pay(world.client, world.token, "voided-meanwhile", INVOICE)

    # then it gets the same outcome, replayed, and nothing more happens downstream
    assert again["replayed"] is True
    assert {k: v for k, v in again.items() if k != "replayed"} == {
        k: v for k, v in answer.items() if k != "replayed"
    }
    assert len(await world.payments.posts("/v1/payments")) == 1
    assert len(await world.payments.refunds_for(charged["id"])) == 1


async def test_a_failed_refund_is_compensated_by_the_relay(
    world_factory: WorldFactory,
) -> None:
    # given an invoice voided right after our charge, and a refund that fails once
    world = await world_factory(wrap=void_after_charge)
    await world.payments.faults(fail_next=1, fail_status=500, path_prefix="/v1/payments/")

    # when the invoice is paid
    answer = await pay(world.client, world.token, "refund-later", INVOICE)

    # then the outcome is not final yet: the saga is parked at "compensating"
    assert codes(answer) == ["DOWNSTREAM_UNAVAILABLE"], answer
    payment_id = answer["payment"]["id"]
    (key_row,) = await key_rows(world.engine)
    assert (key_row.status, key_row.recovery_point) == ("in_progress", "compensating")
    assert len(await lock_rows(world.engine)) == 1
    assert await world.payments.refunds_for(payment_id) == []

    # when the relay runs (the payments service is back)
    relay = await world.relay(outbox_ahead=PAST_GRACE)
    assert await relay.run_once() == 1

    # then the charge is refunded in full, once, with the saga's compensation key
    (refund,) = await world.payments.refunds_for(payment_id)
    (charged,) = [p for p in await world.payments.payments_for(INVOICE) if p["id"] == payment_id]
    assert refund["amount"] == charged["amount"] == charged["amount_refunded"]
    refund_posts = await world.payments.posts(f"/v1/payments/{payment_id}/refunds")
    assert {p["headers"]["idempotency-key"] for p in refund_posts} == {
        record_key_of(ISSUER, SUBJECT, "refund-later", "compensate")
    }
    assert len(refund_posts) == 2
    assert await lock_rows(world.engine) == []

    # and the client's retry gets the final outcome: invalid state, payment refunded
    again = await pay(world.client, world.token, "refund-later", INVOICE)
    assert again["replayed"] is True
    assert codes(again) == ["INVALID_STATE"]
    assert again["payment"]["id"] == payment_id
    assert again["payment"]["amountRefunded"] == again["payment"]["amount"]
    assert len(await world.payments.posts("/v1/payments")) == 1


def void_after_charge(
    name: str, transport: httpx.AsyncBaseTransport, invoicing: Sandbox, payments: Sandbox
) -> httpx.AsyncBaseTransport:
    """The invoice is voided (directly on the invoicing service) right after our charge."""

    async def void() -> None:
        voided = await invoicing.write(f"/v1/invoices/{INVOICE}/void")
        assert voided.status_code == 200, voided.text

    return AfterFirstCharge(transport, void) if name == "payments" else transport


# -- 6: the charge's answer is lost ----------------------------------------------------------


async def test_lost_charge_answer_is_resumed_with_the_same_key(
    world_factory: WorldFactory,
) -> None:
    # given a payments service that takes the charge and then never answers
    world = await world_factory(request_timeout_seconds="1")
    seeded = await world.payments.payment_ids_for(INVOICE)
    await world.payments.faults(
        hang_next=1, hang_after_commit=True, path_prefix="/v1/payments", method="POST"
    )

    # when the invoice is paid
    started = time.monotonic()
    answer = await pay(world.client, world.token, "lost-answer", INVOICE)
    elapsed = time.monotonic() - started

    # then the gateway answers within its budget: outcome unknown, no payment to show
    assert codes(answer) == ["DOWNSTREAM_UNAVAILABLE"], answer
    assert answer["payment"] is None
    assert elapsed < 3.0
    (taken,) = await world.payments.payments_for(INVOICE, besides=seeded)
    assert taken["status"] == "succeeded"  # the money moved; the gateway does not know yet
    (key_row,) = await key_rows(world.engine)
    assert (key_row.status, key_row.recovery_point) == ("in_progress", "charging")
    assert key_row.lease_expires_at <= utcnow()
    assert (await world.invoicing.invoice(INVOICE))["status"] == "open"

    # when the client retries with the same key (through a replica without the tight
    # budget, which only the first attempt is about)
    again = await pay(await world.replica(), world.token, "lost-answer", INVOICE)

    # then the charge is re-sent with the same downstream key, replayed, and recorded
    assert codes(again) == [], again
    assert again["payment"]["id"] == taken["id"]
    assert again["invoice"]["status"] == "PAID"
    charges = await world.payments.posts("/v1/payments")
    assert [c["headers"]["idempotency-key"] for c in charges] == [
        record_key_of(ISSUER, SUBJECT, "lost-answer", "charge")
    ] * 2
    assert [p["id"] for p in await world.payments.payments_for(INVOICE, besides=seeded)] == [
        taken["id"]
    ]
    invoice = await world.invoicing.invoice(INVOICE)
    assert (invoice["status"], invoice["payment_ids"]) == ("paid", [taken["id"]])
    assert len(await world.invoicing.posts(RECORD_PATH)) == 1
    assert await lock_rows(world.engine) == []


async def test_a_failed_invoice_read_lets_the_same_key_retry_at_once(
    world_factory: WorldFactory,
) -> None:
    # given an invoicing service whose next invoice read fails
    world = await world_factory()
    await world.invoicing.faults(fail_next=1, fail_status=500, path_prefix="/v1/invoices")

    # when the invoice is paid (the gateway's first step, reading the invoice, fails)
    first = await pay(world.client, world.token, "read-failed", INVOICE)

    # then the caller is told the service is unavailable, and nothing was charged
    assert codes(first) == ["DOWNSTREAM_UNAVAILABLE"], first
    assert first["payment"] is None
    assert await world.payments.posts("/v1/payments") == []
    # and the request that answered holds nothing: its key is free to be retried now
    for row in await key_rows(world.engine):
        assert row.lease_expires_at is None or row.lease_expires_at <= utcnow(), (
            f"key {row.idempotency_key!r} still leased until {row.lease_expires_at} "
            "by a request that has already answered"
        )

    # when the client retries with the same key right away, the service being back
    again = await pay(world.client, world.token, "read-failed", INVOICE)

    # then the first request is over: the retry runs (it is not "still in use")
    assert codes(again) == [], again
    assert again["invoice"]["status"] == "PAID"


# -- 7: the payment lock is released in every terminal case ----------------------------------


TERMINAL_CASES = [
    pytest.param("pm_card_declined", None, ["PAYMENT_DECLINED"], "FAILED", id="declined"),
    pytest.param(
        "pm_card_insufficient_funds", None, ["INSUFFICIENT_FUNDS"], "FAILED", id="no-funds"
    ),
    pytest.param("pm_no_such_method", None, ["INVALID_INPUT"], None, id="unusable-method"),
    pytest.param("pm_card_ok", 10**9, ["AMOUNT_EXCEEDS_DUE"], None, id="more-than-due"),
]


@pytest.mark.parametrize(("method", "amount", "expected", "status"), TERMINAL_CASES)
async def test_lock_released_after_terminal_outcome(
    world_factory: WorldFactory,
    method: str,
    amount: int | None,
    expected: list[str],
    status: str | None,
) -> None:
    # given a payInvoice that ends definitively without paying the invoice
    world = await world_factory()
    first = await pay(
        world.client, world.token, "ends-here", INVOICE, amount_minor=amount, method=method
    )
    assert codes(first) == expected, first
    assert (first["payment"] or {}).get("status") == status
    assert (await world.invoicing.invoice(INVOICE))["status"] == "open"

    # then the invoice is no longer locked, and the saga left nothing to relay
    await assert_released_and_payable(world, INVOICE)


async def test_lock_released_after_invalid_state(
    world_factory: WorldFactory,
) -> None:
    # given a draft invoice (not payable yet)
    world = await world_factory()
    first = await pay(world.client, world.token, "too-early", GB_DRAFT_INVOICE_ID)
    assert codes(first) == ["INVALID_STATE"], first
    assert first["payment"] is None
    assert await world.payments.posts("/v1/payments") == []

    # when it is finalized (opened) meanwhile
    finalized = await world.invoicing.write(f"/v1/invoices/{GB_DRAFT_INVOICE_ID}/finalize")
    assert finalized.status_code == 200, finalized.text

    # then another key can pay it
    await assert_released_and_payable(world, GB_DRAFT_INVOICE_ID)


async def test_lock_released_after_compensation(
    world_factory: WorldFactory,
) -> None:
    # given an invoice that gets (almost) fully paid elsewhere between our charge and
    # our recording: the recording is refused with amount_exceeds_due
    left_due = 100

    def wrap(
        name: str, transport: httpx.AsyncBaseTransport, invoicing: Sandbox, payments: Sandbox
    ) -> httpx.AsyncBaseTransport:
        async def paid_elsewhere() -> None:
            invoice = await invoicing.invoice(INVOICE)
            recorded = await invoicing.write(
                f"/v1/invoices/{INVOICE}/payments",
                {
                    "payment_id": "pay_elsewhere1",
                    "amount": int(invoice["amount_due"]) - left_due,
                    "currency": "GBP",
                },
            )
            assert recorded.status_code == 200, recorded.text

        return AfterFirstCharge(transport, paid_elsewhere) if name == "payments" else transport

    world = await world_factory(wrap=wrap)
    first = await pay(world.client, world.token, "overtaken", INVOICE)

    # then the charge was refunded in full and the caller told why
    assert codes(first) == ["AMOUNT_EXCEEDS_DUE"], first
    assert first["payment"]["amountRefunded"] == first["payment"]["amount"]
    refund_posts = await world.payments.posts(f"/v1/payments/{first['payment']['id']}/refunds")
    assert len(refund_posts) == 1

    # and the invoice, still open with a little due, can be paid by another key
    invoice = await world.invoicing.invoice(INVOICE)
    assert (invoice["status"], invoice["amount_due"]) == ("open", left_due)
    await assert_released_and_payable(world, INVOICE)


async def assert_released_and_payable(world: World, invoice_id: str) -> None:
    assert await lock_rows(world.engine) == []
    assert all(row.completed_at is not None for row in await outbox_rows(world.engine))
    answer = await pay(world.client, world.token, "another-key", invoice_id)
    assert codes(answer) == [], answer
    assert answer["payment"]["status"] == "SUCCEEDED"
    assert answer["invoice"]["status"] == "PAID"
    invoice = await world.invoicing.invoice(invoice_id)
    assert invoice["status"] == "paid"
    assert answer["payment"]["id"] in invoice["payment_ids"]
    assert await lock_rows(world.engine) == []
