"""The headline: a gateway process killed (kill -9) between the charge and the recording.
A new process on the same PostgreSQL database finishes the saga through its relay, with
the same downstream key, and the customer is charged exactly once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.principal import Role
from app.db import migrate
from app.db.engine import create_engine
from sandbox.devkeys import mint_token
from sandbox.seed import GB_BUSINESS_ID, GB_OPEN_INVOICE_ID
from tests.mutations.helpers import (
    codes,
    eventually,
    key_rows,
    lock_rows,
    outbox_rows,
    pay,
    record_key_of,
    utcnow,
)
from tests.mutations.processes import Processes, start_gateway, start_services, wait_ready

ISSUER = "https://id.crash.test/"
AUDIENCE = "fintech-gateway"
SUBJECT = "user_crash_owner"
INVOICING_TOKEN = "crash-invoicing-token"
PAYMENTS_TOKEN = "crash-payments-token"
INVOICE = GB_OPEN_INVOICE_ID
RECORD_PATH = f"/v1/invoices/{INVOICE}/payments"
KEY = "crash-between-charge-and-record"


async def nobody_on_the_saga(engine: AsyncEngine) -> bool:
    """The request has answered and no relay is inside the saga now or for a while:
    the outbox row is waiting out a retry backoff (not held), and the key's lease is
    released. Killing the process now loses nothing in flight."""
    rows = await outbox_rows(engine)
    keys = await key_rows(engine)
    if len(rows) != 1 or len(keys) != 1:
        return False
    row, key = rows[0], keys[0]
    now = utcnow()
    waiting = row.last_error is not None and (
        now + timedelta(seconds=0.5) < row.next_attempt_at < now + timedelta(seconds=30)
    )
    released = key.lease_expires_at is not None and key.lease_expires_at <= now
    return row.completed_at is None and waiting and released


@pytest.mark.postgres
async def test_gateway_killed_between_charge_and_record_is_finished_by_a_new_process(
    postgres_url: str, tmp_path: Path
) -> None:
    # given a migrated PostgreSQL database, sandbox services and an identity provider,
    # each a real process on a free loopback port
    engine = create_engine(postgres_url)
    processes = Processes(tmp_path)
    try:
        await migrate.upgrade(engine)
        services = await start_services(
            processes,
            tmp_path,
            database_url=postgres_url,
            issuer=ISSUER,
            audience=AUDIENCE,
            invoicing_token=INVOICING_TOKEN,
            payments_token=PAYMENTS_TOKEN,
        )
        invoicing, payments, signing_key = (
            services.invoicing,
            services.payments,
            services.signing_key,
        )
        settings = {
            **services.settings,
            "RELAY_GRACE_SECONDS": "0",
            "RELAY_INTERVAL_SECONDS": "0.2",
        }
        first, first_url = await start_gateway(processes, "gateway-1", settings)
        await wait_ready(first, f"{first_url}/readyz")
        token = mint_token(
            signing_key,
            issuer=ISSUER,
            audience=AUDIENCE,
            subject=SUBJECT,
            memberships=[(GB_BUSINESS_ID, Role.OWNER)],
        )
        seeded = await payments.payment_ids_for(INVOICE)
        # and an invoicing service that fails every recording of a payment
        await invoicing.faults(fail_next=100_000, fail_status=503, path_prefix=RECORD_PATH)

        # when the invoice is paid: the charge succeeds, the recording fails
        async with httpx.AsyncClient(base_url=first_url, timeout=30, trust_env=False) as client:
            answer = await pay(client, token, KEY, INVOICE)
        assert codes(answer) == ["DOWNSTREAM_UNAVAILABLE"], answer
        payment_id = answer["payment"]["id"]
        assert answer["payment"]["status"] == "SUCCEEDED"

        # and the gateway process is killed while the saga is unfinished
        await eventually(
            lambda: nobody_on_the_saga(engine), within=15, what="the saga to be left waiting"
        )
        await first.kill_hard()
        assert first.proc.returncode == -9
        assert (await invoicing.invoice(INVOICE))["status"] == "open"
        records_before_restart = await invoicing.posts(RECORD_PATH)
        assert records_before_restart  # the request tried (and maybe its relay did)

        # when the invoicing service recovers and a new gateway starts on the same database
        await invoicing.clear_faults()
        second, second_url = await start_gateway(processes, "gateway-2", settings)
        await wait_ready(second, f"{second_url}/readyz")

        # then its relay finishes the saga: the invoice gets paid
        async def invoice_paid() -> bool:
            invoice: dict[str, Any] = await invoicing.invoice(INVOICE)
            return bool(invoice["status"] == "paid")

        await eventually(invoice_paid, within=20, interval=0.2, what="the invoice to be paid")

        # with exactly one charge, the one the first process took
        invoice = await invoicing.invoice(INVOICE)
        assert invoice["payment_ids"] == [payment_id]
        assert invoice["amount_paid"] == invoice["total"]
        assert [p["id"] for p in await payments.payments_for(INVOICE, besides=seeded)] == [
            payment_id
        ]
        assert len(await payments.posts("/v1/payments")) == 1
        # recorded by the new process's relay, every attempt with the same downstream key
        records = await invoicing.posts(RECORD_PATH)
        assert {r["headers"]["idempotency-key"] for r in records} == {
            record_key_of(ISSUER, SUBJECT, KEY, "record")
        }
        after_restart = records[len(records_before_restart) :]
        assert after_restart, "the new process never tried to record"
        assert all(r["headers"]["x-request-id"].startswith("relay-") for r in after_restart)
        assert all(r["headers"]["x-actor-id"] == SUBJECT for r in records)
        (row,) = await outbox_rows(engine)
        assert row.completed_at is not None
        assert await lock_rows(engine) == []

        # and the client's retry with the same key gets the final result
        async with httpx.AsyncClient(base_url=second_url, timeout=30, trust_env=False) as client:
            again = await pay(client, token, KEY, INVOICE)
        assert (again["replayed"], codes(again)) == (True, [])
        assert again["payment"]["id"] == payment_id
        assert again["invoice"]["status"] == "PAID"
        assert len(await payments.posts("/v1/payments")) == 1
    finally:
        try:
            await processes.stop_all()
        finally:
            await engine.dispose()
