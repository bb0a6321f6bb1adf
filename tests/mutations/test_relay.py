"""The relay never races a live request or another relay: it leaves a saga alone while
its lease is held, and of several relays only one resumes a given saga."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from sandbox.seed import GB_OPEN_INVOICE_ID
from tests.mutations.conftest import ISSUER, SUBJECT, World, WorldFactory
from tests.mutations.helpers import (
    Sandbox,
    codes,
    key_rows,
    lock_rows,
    outbox_rows,
    pay,
    record_key_of,
    utcnow,
)
from tests.mutations.transports import HoldRecording

INVOICE = GB_OPEN_INVOICE_ID
RECORD_PATH = f"/v1/invoices/{INVOICE}/payments"
PAST_GRACE = timedelta(seconds=31)  # the default RELAY_GRACE_SECONDS is 30
PAST_HOLD = PAST_GRACE + timedelta(seconds=61)  # the outbox's DEFAULT_HOLD is 60
BOUND = 10.0  # no single step of these tests may take longer


async def holding_world(world_factory: WorldFactory, *, armed: bool) -> tuple[World, HoldRecording]:
    holds: list[HoldRecording] = []

    def wrap(
        name: str, transport: httpx.AsyncBaseTransport, invoicing: Sandbox, payments: Sandbox
    ) -> httpx.AsyncBaseTransport:
        if name != "invoicing":
            return transport
        holds.append(HoldRecording(transport, armed=armed))
        return holds[-1]

    world = await world_factory(wrap=wrap)
    return world, holds[0]


async def park_after_charge(world: World, key: str) -> str:
    """A payInvoice whose recording fails once: charged, parked, outbox row waiting."""
    await world.invoicing.faults(fail_next=1, fail_status=500, path_prefix=RECORD_PATH)
    answer = await pay(world.client, world.token, key, INVOICE)
    assert codes(answer) == ["DOWNSTREAM_UNAVAILABLE"], answer
    payment_id: str = answer["payment"]["id"]
    (row,) = await outbox_rows(world.engine)
    assert row.completed_at is None
    return payment_id


async def test_relay_leaves_a_saga_alone_while_a_live_request_holds_it(
    world_factory: WorldFactory,
) -> None:
    # given a request in the middle of its saga (charged, its recording in flight)
    world, hold = await holding_world(world_factory, armed=True)
    request = asyncio.create_task(pay(world.client, world.token, "live-one", INVOICE))
    try:
        await asyncio.wait_for(hold.reached.wait(), BOUND)
        (row,) = await outbox_rows(world.engine)
        assert row.completed_at is None
        (key_row,) = await key_rows(world.engine)
        assert key_row.recovery_point == "charged"
        assert key_row.lease_expires_at > utcnow()

        # when a relay for which the row is due (past the grace) runs
        relay = await world.relay(outbox_ahead=PAST_GRACE)
        finished = await asyncio.wait_for(relay.run_once(), BOUND)

        # then it did nothing but put the row off: no charge, no recording of its own
        assert finished == 0
        (row,) = await outbox_rows(world.engine)
        assert row.completed_at is None
        assert row.last_error == "a live request holds the saga"
        assert row.next_attempt_at > utcnow() + PAST_GRACE
        assert hold.held == 1
        assert len(await world.payments.posts("/v1/payments")) == 1
        (key_row_after,) = await key_rows(world.engine)
        assert key_row_after.lease_owner == key_row.lease_owner  # the request still holds it
    finally:
        # when the request is let go
        hold.release.set()
        answer = await asyncio.wait_for(request, BOUND)

    # then the request finished its own saga, once, and the row is done
    assert codes(answer) == [], answer
    assert answer["invoice"]["status"] == "PAID"
    records = await world.invoicing.posts(RECORD_PATH)
    assert len(records) == 1
    assert not records[0]["headers"]["x-request-id"].startswith("relay-")
    (row,) = await outbox_rows(world.engine)
    assert row.completed_at is not None
    assert await lock_rows(world.engine) == []
    later = await world.relay(outbox_ahead=PAST_HOLD + timedelta(minutes=10))
    assert await asyncio.wait_for(later.run_once(), BOUND) == 0
    assert len(await world.invoicing.posts(RECORD_PATH)) == 1


async def test_concurrent_relays_resume_a_due_saga_once(
    world_factory: WorldFactory,
) -> None:
    # given a saga parked after its charge, and a slowish recording once it recovers
    world = await world_factory()
    seeded = await world.payments.payment_ids_for(INVOICE)
    payment_id = await park_after_charge(world, "for-the-relays")
    await world.invoicing.faults(latency_ms=100, path_prefix=RECORD_PATH)
    # four relays, each with its own engine, pool and stores, like four gateway processes
    relays = [await world.relay(outbox_ahead=PAST_GRACE) for _ in range(4)]

    # when they all run a round at the same time
    finished = await asyncio.wait_for(
        asyncio.gather(*(relay.run_once() for relay in relays)), BOUND
    )

    # then exactly one of them resumed the saga: one charge, one successful recording
    assert sorted(finished) == [0, 0, 0, 1]
    assert len(await world.payments.posts("/v1/payments")) == 1
    records = await world.invoicing.posts(RECORD_PATH)
    assert len(records) == 2  # the request's failed one, one relay's
    assert {r["headers"]["idempotency-key"] for r in records} == {
        record_key_of(ISSUER, SUBJECT, "for-the-relays", "record")
    }
    invoice = await world.invoicing.invoice(INVOICE)
    assert (invoice["status"], invoice["payment_ids"]) == ("paid", [payment_id])
    assert [p["id"] for p in await world.payments.payments_for(INVOICE, besides=seeded)] == [
        payment_id
    ]
    (row,) = await outbox_rows(world.engine)
    assert row.completed_at is not None
    assert row.attempts == 1


async def test_relays_sharing_one_engine_resume_a_due_saga_once(
    world_factory: WorldFactory,
) -> None:
    # given a saga parked after its charge, and two relays over the same engine and stores
    world = await world_factory()
    await park_after_charge(world, "shared-stores")
    await world.invoicing.faults(latency_ms=100, path_prefix=RECORD_PATH)
    relay, twin = await world.relays(2, outbox_ahead=PAST_GRACE)

    # when both run a round at the same time
    finished = await asyncio.wait_for(asyncio.gather(relay.run_once(), twin.run_once()), BOUND)

    # then one resumed it, once
    assert sorted(finished) == [0, 1]
    assert len(await world.payments.posts("/v1/payments")) == 1
    assert len(await world.invoicing.posts(RECORD_PATH)) == 2
    assert (await world.invoicing.invoice(INVOICE))["status"] == "paid"


async def test_a_relay_whose_hold_ran_out_does_not_resume_a_saga_in_progress(
    world_factory: WorldFactory,
) -> None:
    # given a saga parked after its charge, resumed by a first relay that is now stuck in
    # the recording (for longer than the outbox hold)
    world, hold = await holding_world(world_factory, armed=False)
    await park_after_charge(world, "slow-relay")
    hold.armed = True
    first = await world.relay(outbox_ahead=PAST_GRACE)
    first_round = asyncio.create_task(first.run_once())
    try:
        await asyncio.wait_for(hold.reached.wait(), BOUND)

        # when a second relay, for which the first one's hold has run out, runs a round
        second = await world.relay(outbox_ahead=PAST_HOLD)
        finished = await asyncio.wait_for(second.run_once(), BOUND)

        # then it takes the row but leaves the saga to the lease holder
        assert finished == 0
        assert hold.held == 1
        (row,) = await outbox_rows(world.engine)
        assert row.last_error == "a live request holds the saga"
    finally:
        hold.release.set()
        first_finished = await asyncio.wait_for(first_round, BOUND)

    # and the first relay finishes it, once
    assert first_finished == 1
    assert len(await world.payments.posts("/v1/payments")) == 1
    records = await world.invoicing.posts(RECORD_PATH)
    assert len(records) == 2
    assert records[-1]["headers"]["x-request-id"].startswith("relay-")
    assert (await world.invoicing.invoice(INVOICE))["status"] == "paid"
    (row,) = await outbox_rows(world.engine)
    assert row.completed_at is not None
    assert await lock_rows(world.engine) == []


async def test_relay_takes_over_from_a_dead_holder_once_its_lease_runs_out(
    world_factory: WorldFactory,
) -> None:
    # given a request stuck for good in its recording, as if its process had hung
    world, hold = await holding_world(world_factory, armed=True)
    seeded = await world.payments.payment_ids_for(INVOICE)
    stuck = asyncio.create_task(pay(world.client, world.token, "dead-holder", INVOICE))
    try:
        await asyncio.wait_for(hold.reached.wait(), BOUND)
        hold.armed = False

        # when a relay runs once the lease has run out (its clocks 31 s ahead)
        relay = await world.relay(outbox_ahead=PAST_GRACE, keys_ahead=PAST_GRACE)
        finished = await asyncio.wait_for(relay.run_once(), BOUND)

        # then it took the saga over and finished it with the same downstream keys
        assert finished == 1
        invoice = await world.invoicing.invoice(INVOICE)
        assert invoice["status"] == "paid"
        (payment,) = await world.payments.payments_for(INVOICE, besides=seeded)
        assert invoice["payment_ids"] == [payment["id"]]
        relay_result = (await key_rows(world.engine))[0].result
    finally:
        # when the stuck request comes back to life
        hold.release.set()
        await asyncio.wait_for(asyncio.gather(stuck, return_exceptions=True), BOUND)

    # then it could not overwrite the relay's outcome or do anything twice
    (key_row,) = await key_rows(world.engine)
    assert key_row.status == "completed"
    assert key_row.result == relay_result
    assert len(await world.payments.posts("/v1/payments")) == 1
    records = await world.invoicing.posts(RECORD_PATH)
    assert {r["headers"]["idempotency-key"] for r in records} == {
        record_key_of(ISSUER, SUBJECT, "dead-holder", "record")
    }
    assert (await world.invoicing.invoice(INVOICE))["payment_ids"] == [payment["id"]]
    assert await lock_rows(world.engine) == []
    # and the key replays the relay's outcome
    again = await pay(world.client, world.token, "dead-holder", INVOICE)
    assert (again["replayed"], codes(again), again["payment"]["id"]) == (True, [], payment["id"])


async def test_retries_and_a_relay_racing_on_a_parked_saga_resume_it_once(
    world_factory: WorldFactory,
) -> None:
    # given a saga parked after its charge, and a recording that is slowish once back
    world = await world_factory()
    payment_id = await park_after_charge(world, "many-hands")
    await world.invoicing.faults(latency_ms=50, path_prefix=RECORD_PATH)
    relay = await world.relay(outbox_ahead=PAST_GRACE)

    # when ten retries of the client's key and a relay all try to resume it at once
    retries = asyncio.gather(
        *(pay(world.client, world.token, "many-hands", INVOICE) for _ in range(10))
    )
    answers, finished = await asyncio.wait_for(asyncio.gather(retries, relay.run_once()), BOUND)

    # then one of them resumed it; every retry got the payment or "key in use"
    assert finished in (0, 1)
    for answer in answers:
        if answer["payment"] is None:
            assert codes(answer) == ["IDEMPOTENCY_KEY_IN_USE"], answer
        else:
            assert codes(answer) == [], answer
            assert answer["payment"]["id"] == payment_id
            assert answer["invoice"]["status"] == "PAID"
    resumed_by_a_request = [a for a in answers if a["payment"] and not a["replayed"]]
    assert len(resumed_by_a_request) <= 1
    # the relay also counts a row it only closed because a request finished the saga
    # first; that nobody else resumed it shows in the downstream posts below
    assert len(resumed_by_a_request) == 1 or finished == 1
    # and it was recorded once (after the one failed attempt), charged once
    assert len(await world.invoicing.posts(RECORD_PATH)) == 2
    assert len(await world.payments.posts("/v1/payments")) == 1
    invoice = await world.invoicing.invoice(INVOICE)
    assert (invoice["status"], invoice["payment_ids"]) == ("paid", [payment_id])
    (row,) = await outbox_rows(world.engine)
    assert row.completed_at is not None
    assert await lock_rows(world.engine) == []
