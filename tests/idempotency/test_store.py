"""The idempotency store on real databases (SQLite embedded, PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import migrate
from app.idempotency.keys import KeyScope, downstream_key, fingerprint
from app.idempotency.store import ClaimOutcome, IdempotencyStore, LeaseLostError


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


ALICE = KeyScope("https://id.example/", "alice", "payInvoice")
BOB = KeyScope("https://id.example/", "bob", "payInvoice")
PRINT = fingerprint({"invoiceId": "inv_1", "amount": None})
OTHER_PRINT = fingerprint({"invoiceId": "inv_2", "amount": None})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(engine: AsyncEngine, clock: Clock) -> IdempotencyStore:
    await migrate.upgrade(engine)
    return IdempotencyStore(engine, lease=timedelta(seconds=30), clock=clock)


async def test_the_first_claim_is_new_and_holds_a_lease(store: IdempotencyStore) -> None:
    claim = await store.claim(ALICE, "k1", PRINT)

    assert claim.outcome is ClaimOutcome.NEW
    assert claim.lease is not None
    assert claim.recovery_point == "claimed"


async def test_a_second_claim_while_the_first_runs_is_in_use(store: IdempotencyStore) -> None:
    await store.claim(ALICE, "k1", PRINT)

    assert (await store.claim(ALICE, "k1", PRINT)).outcome is ClaimOutcome.IN_USE


async def test_the_same_key_with_other_input_is_reused_whatever_its_state(
    store: IdempotencyStore,
) -> None:
    first = await store.claim(ALICE, "k1", PRINT)
    assert (await store.claim(ALICE, "k1", OTHER_PRINT)).outcome is ClaimOutcome.REUSED

    assert first.lease is not None
    async with store.transaction() as connection:
        await store.complete(connection, first.lease, {"paymentId": "pay_1"})
    assert (await store.claim(ALICE, "k1", OTHER_PRINT)).outcome is ClaimOutcome.REUSED


async def test_a_completed_key_replays_its_stored_result(store: IdempotencyStore) -> None:
    claim = await store.claim(ALICE, "k1", PRINT)
    assert claim.lease is not None
    async with store.transaction() as connection:
        await store.complete(connection, claim.lease, {"paymentId": "pay_1", "userErrors": []})

    replay = await store.claim(ALICE, "k1", PRINT)

    assert replay.outcome is ClaimOutcome.REPLAY
    assert replay.result == {"paymentId": "pay_1", "userErrors": []}


async def test_one_users_key_never_replays_for_another(store: IdempotencyStore) -> None:
    claim = await store.claim(ALICE, "shared-key", PRINT)
    assert claim.lease is not None
    async with store.transaction() as connection:
        await store.complete(connection, claim.lease, {"paymentId": "pay_alice"})

    assert (await store.claim(BOB, "shared-key", PRINT)).outcome is ClaimOutcome.NEW


async def test_a_released_key_resumes_from_its_recorded_step(store: IdempotencyStore) -> None:
    # Given a saga that recorded a step and then met an unknown outcome
    claim = await store.claim(ALICE, "k1", PRINT)
    assert claim.lease is not None
    async with store.transaction() as connection:
        await store.record_step(connection, claim.lease, "charging", {"amount": 1250})
    await store.release(claim.lease)

    # When the client retries with the same key
    retry = await store.claim(ALICE, "k1", PRINT)

    # Then it continues where the first attempt stopped
    assert retry.outcome is ClaimOutcome.RESUMED
    assert (retry.recovery_point, retry.state) == ("charging", {"amount": 1250})


async def test_a_crashed_holders_lease_expires_and_it_can_no_longer_write(
    store: IdempotencyStore, clock: Clock
) -> None:
    # Given a holder that stopped answering (its lease is never released)
    crashed = await store.claim(ALICE, "k1", PRINT)
    assert crashed.lease is not None
    clock.advance(seconds=29)
    assert (await store.claim(ALICE, "k1", PRINT)).outcome is ClaimOutcome.IN_USE

    # When the lease runs out, the next request takes over
    clock.advance(seconds=2)
    taken = await store.claim(ALICE, "k1", PRINT)
    assert taken.outcome is ClaimOutcome.RESUMED

    # Then the old holder's writes are refused (fenced on the lease)
    with pytest.raises(LeaseLostError):
        async with store.transaction() as connection:
            await store.record_step(connection, crashed.lease, "charging", {})
    with pytest.raises(LeaseLostError):
        async with store.transaction() as connection:
            await store.complete(connection, crashed.lease, {})


async def test_recording_a_step_renews_the_lease(store: IdempotencyStore, clock: Clock) -> None:
    claim = await store.claim(ALICE, "k1", PRINT)
    assert claim.lease is not None
    clock.advance(seconds=25)
    async with store.transaction() as connection:
        await store.record_step(connection, claim.lease, "charging", {})
    clock.advance(seconds=25)

    assert (await store.claim(ALICE, "k1", PRINT)).outcome is ClaimOutcome.IN_USE


async def test_a_forgotten_key_can_be_used_afresh(store: IdempotencyStore) -> None:
    claim = await store.claim(ALICE, "k1", PRINT)
    assert claim.lease is not None
    await store.forget(claim.lease)

    assert (await store.claim(ALICE, "k1", OTHER_PRINT)).outcome is ClaimOutcome.NEW


async def test_purge_removes_only_completed_keys_past_retention(
    store: IdempotencyStore, clock: Clock
) -> None:
    done = await store.claim(ALICE, "old-done", PRINT)
    unfinished = await store.claim(ALICE, "old-unfinished", PRINT)
    assert done.lease is not None
    assert unfinished.lease is not None
    async with store.transaction() as connection:
        await store.complete(connection, done.lease, {"ok": True})
    clock.advance(hours=23)
    recent = await store.claim(ALICE, "recent-done", PRINT)
    assert recent.lease is not None
    async with store.transaction() as connection:
        await store.complete(connection, recent.lease, {"ok": True})

    clock.advance(hours=2)
    removed = await store.purge()

    assert removed == 1
    assert (await store.claim(ALICE, "old-done", PRINT)).outcome is ClaimOutcome.NEW
    assert (await store.claim(ALICE, "recent-done", PRINT)).outcome is ClaimOutcome.REPLAY
    # Kept: it may stand for money that moved; its lease ran out, so it resumes.
    assert (await store.claim(ALICE, "old-unfinished", PRINT)).outcome is ClaimOutcome.RESUMED


async def test_twenty_concurrent_claims_give_exactly_one_winner(store: IdempotencyStore) -> None:
    outcomes = await asyncio.gather(*(store.claim(ALICE, "race", PRINT) for _ in range(20)))

    assert sorted(o.outcome.value for o in outcomes) == ["in_use"] * 19 + ["new"]


def test_downstream_keys_are_deterministic_and_distinct_per_step_and_scope() -> None:
    charge = downstream_key(ALICE.digest, "k1", "charge")

    assert charge == downstream_key(ALICE.digest, "k1", "charge")
    assert (
        len(
            {
                charge,
                downstream_key(ALICE.digest, "k1", "record"),
                downstream_key(BOB.digest, "k1", "charge"),
                downstream_key(ALICE.digest, "k2", "charge"),
            }
        )
        == 4
    )
    assert charge.startswith("gw1-")
    assert len(charge) <= 255


def test_fingerprints_ignore_key_order_but_not_values() -> None:
    assert fingerprint({"a": 1, "b": {"c": 2}}) == fingerprint({"b": {"c": 2}, "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
