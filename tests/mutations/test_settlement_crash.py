"""A bank transfer settles while the gateway runs; the gateway process is killed (kill -9)
after the settler saw it settle but before its recording got through. A new process on
the same PostgreSQL database records it: the invoice is paid, with one record."""

from __future__ import annotations

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
    pay,
    record_key_of,
    watch_rows,
)
from tests.mutations.processes import Processes, start_gateway, start_services, wait_ready

ISSUER = "https://id.settle.test/"
AUDIENCE = "fintech-gateway"
SUBJECT = "user_settle_owner"
INVOICING_TOKEN = "settle-invoicing-token"
PAYMENTS_TOKEN = "settle-payments-token"
INVOICE = GB_OPEN_INVOICE_ID
RECORD_PATH = f"/v1/invoices/{INVOICE}/payments"
KEY = "transfer-across-a-crash"


async def settled_and_tried(engine: AsyncEngine) -> bool:
    """The settler saw the transfer settle and failed to record it at least once."""
    rows = await watch_rows(engine)
    return len(rows) == 1 and rows[0].state == "recording" and rows[0].last_error is not None


@pytest.mark.postgres
async def test_a_transfer_settled_across_a_gateway_crash_is_recorded_once(
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
            "SETTLEMENT_POLL_SECONDS": "0.1",
            "SETTLEMENT_INTERVAL_SECONDS": "0.1",
            "SETTLEMENT_MAX_BACKOFF_SECONDS": "0.5",
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

        # when the invoice is paid by bank transfer: pending
        async with httpx.AsyncClient(base_url=first_url, timeout=30, trust_env=False) as client:
            answer = await pay(client, token, KEY, INVOICE, method="pm_bank_transfer")
        assert codes(answer) == [], answer
        payment_id = answer["payment"]["id"]
        assert answer["payment"]["status"] == "PENDING"

        # and it settles while the invoicing service refuses every recording for now
        await invoicing.faults(fail_next=100_000, fail_status=503, path_prefix=RECORD_PATH)
        await payments.settle(payment_id, "succeeded")
        await eventually(
            lambda: settled_and_tried(engine), within=15, what="the settler to try recording"
        )

        # and the gateway process is killed
        await first.kill_hard()
        assert first.proc.returncode == -9
        assert (await invoicing.invoice(INVOICE))["status"] == "open"
        before_restart = await invoicing.posts(RECORD_PATH)

        # when the invoicing service recovers and a new gateway starts on the same database
        await invoicing.clear_faults()
        second, second_url = await start_gateway(processes, "gateway-2", settings)
        await wait_ready(second, f"{second_url}/readyz")

        # then its settler records the transfer: the invoice is paid, with one record
        async def invoice_paid() -> bool:
            invoice: dict[str, Any] = await invoicing.invoice(INVOICE)
            return bool(invoice["status"] == "paid")

        await eventually(invoice_paid, within=20, interval=0.2, what="the invoice to be paid")
        invoice = await invoicing.invoice(INVOICE)
        assert invoice["payment_ids"] == [payment_id]
        assert invoice["amount_paid"] == invoice["total"]
        records = await invoicing.posts(RECORD_PATH)
        assert len(records) > len(before_restart), "the new process never tried to record"
        assert {r["headers"]["idempotency-key"] for r in records} == {
            record_key_of(ISSUER, SUBJECT, KEY, "settle_record")
        }
        (row,) = await watch_rows(engine)
        assert (row.state, row.outcome) == ("done", "recorded")
        assert len(await payments.posts("/v1/payments")) == 1
    finally:
        try:
            await processes.stop_all()
        finally:
            await engine.dispose()
