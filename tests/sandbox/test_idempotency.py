"""Idempotency-Key semantics of the README, on both services."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from sandbox.common.faults import FaultConfig
from sandbox.seed import GB_BUSINESS_ID, GB_DRAFT_INVOICE_ID, GB_OPEN_INVOICE_ID
from tests.sandbox.conftest import Apps, contract_client
from tests.sandbox.helpers import assert_error, invoice_body, payment_body, write_headers


async def count_payments(payments: httpx.AsyncClient) -> int:
    response = await payments.get("/v1/payments", params={"invoice_ids": GB_OPEN_INVOICE_ID})
    return len(response.json()["data"])


async def test_a_replay_returns_the_original_with_the_header(
    payments: httpx.AsyncClient,
) -> None:
    # given
    before = await count_payments(payments)
    first = await payments.post("/v1/payments", json=payment_body(), headers=write_headers("k1"))
    # when the same request is sent again, its JSON keys in another order and spacing
    again = await payments.post(
        "/v1/payments",
        content=b'{"payment_method": "pm_card_ok", "currency": "GBP", "amount": 10000,'
        b' "invoice_id": "%s", "business_id": "%s"}'
        % (GB_OPEN_INVOICE_ID.encode(), GB_BUSINESS_ID.encode()),
        headers={**write_headers("k1"), "Content-Type": "application/json"},
    )
    # then the stored answer comes back and nothing was done twice
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await count_payments(payments) == before + 1


async def test_a_replay_ignores_the_actor(payments: httpx.AsyncClient) -> None:
    first = await payments.post(
        "/v1/payments", json=payment_body(), headers=write_headers("k1", actor="alice")
    )
    again = await payments.post(
        "/v1/payments", json=payment_body(), headers=write_headers("k1", actor="bob")
    )
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"


async def test_the_same_key_with_another_body_is_422(payments: httpx.AsyncClient) -> None:
    await payments.post("/v1/payments", json=payment_body(), headers=write_headers("k1"))
    reused = await payments.post(
        "/v1/payments", json=payment_body(amount=1), headers=write_headers("k1")
    )
    assert_error(reused, 422, "idempotency_error", "idempotency_key_reused", "Idempotency-Key")


async def test_the_same_key_on_another_path_is_422(invoicing: httpx.AsyncClient) -> None:
    await invoicing.post(f"/v1/invoices/{GB_DRAFT_INVOICE_ID}/finalize", headers=write_headers("k"))
    reused = await invoicing.post(
        f"/v1/invoices/{GB_DRAFT_INVOICE_ID}/void", headers=write_headers("k")
    )
    assert_error(reused, 422, "idempotency_error", "idempotency_key_reused", "Idempotency-Key")


async def test_business_errors_are_stored_and_replayed(invoicing: httpx.AsyncClient) -> None:
    # given a finalize that fails because the invoice is already open
    path = f"/v1/invoices/{GB_OPEN_INVOICE_ID}/finalize"
    first = await invoicing.post(path, headers=write_headers("k-open"))
    # when retried with the same key
    again = await invoicing.post(path, headers=write_headers("k-open"))
    # then
    assert_error(first, 409, "conflict_error", "invalid_state", None)
    assert again.content == first.content
    assert again.status_code == 409
    assert again.headers["Idempotent-Replayed"] == "true"


async def test_a_replay_is_the_original_even_after_state_changed(
    invoicing: httpx.AsyncClient,
) -> None:
    path = f"/v1/invoices/{GB_DRAFT_INVOICE_ID}/finalize"
    first = await invoicing.post(path, headers=write_headers("k-fin"))
    # the same operation with a new key now conflicts; the old key still replays success
    fresh = await invoicing.post(path, headers=write_headers("k-fin-2"))
    replay = await invoicing.post(path, headers=write_headers("k-fin"))
    assert first.status_code == 200
    assert_error(fresh, 409, "conflict_error", "invalid_state", None)
    assert (replay.status_code, replay.content) == (200, first.content)


async def test_a_request_still_running_makes_the_same_key_409(apps: Apps) -> None:
    # given a slow service
    app = apps.payments(faults=FaultConfig(latency_ms=300))
    async with contract_client(app, "payments", "http://payments.test") as payments:
        # when two identical requests with one key arrive together
        first, second = await asyncio.gather(
            payments.post("/v1/payments", json=payment_body(), headers=write_headers("k1")),
            payments.post("/v1/payments", json=payment_body(), headers=write_headers("k1")),
        )
        # then the first runs and the second is told to retry later
        assert first.status_code == 201
        assert_error(second, 409, "idempotency_error", "idempotency_key_in_use", "Idempotency-Key")
        # and a retry after the first finished replays it
        retry = await payments.post(
            "/v1/payments", json=payment_body(), headers=write_headers("k1")
        )
        assert retry.content == first.content
        assert retry.headers["Idempotent-Replayed"] == "true"


async def test_a_5xx_is_not_stored_so_a_retry_runs_once(payments: httpx.AsyncClient) -> None:
    # given the next request fails with a 503
    before = await count_payments(payments)
    await payments.put("/_sandbox/faults", json={"fail_next": 1, "fail_status": 503})
    # when it is sent, retried, and retried again with the same key
    failed = await payments.post("/v1/payments", json=payment_body(), headers=write_headers("k"))
    retried = await payments.post("/v1/payments", json=payment_body(), headers=write_headers("k"))
    replayed = await payments.post("/v1/payments", json=payment_body(), headers=write_headers("k"))
    # then the failure did nothing, the retry ran, the third was a replay
    assert_error(failed, 503, "api_error", "api_error", None)
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert await count_payments(payments) == before + 1


async def test_keys_are_scoped_per_service_token(apps: Apps, tmp_path: Path) -> None:
    # given two invoicing apps sharing one database file but with different tokens
    db = f"{tmp_path}/shared.db"
    first_app = apps.invoicing(token="token-a", db_path=db)
    second_app = apps.invoicing(token="token-b", db_path=db, seed=False)
    body = invoice_body()
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=first_app),
            base_url="http://a.test",
            headers={"Authorization": "Bearer token-a"},
        ) as a,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=second_app),
            base_url="http://b.test",
            headers={"Authorization": "Bearer token-b"},
        ) as b,
    ):
        # when both use the same key
        made_by_a = await a.post("/v1/invoices", json=body, headers=write_headers("same"))
        made_by_b = await b.post("/v1/invoices", json=body, headers=write_headers("same"))
    # then both ran: neither is a replay of the other
    assert made_by_a.status_code == made_by_b.status_code == 201
    assert made_by_a.json()["id"] != made_by_b.json()["id"]
    assert "idempotent-replayed" not in made_by_b.headers


async def test_without_a_key_invoicing_runs_every_time(invoicing: httpx.AsyncClient) -> None:
    first = await invoicing.post("/v1/invoices", json=invoice_body(), headers=write_headers())
    second = await invoicing.post("/v1/invoices", json=invoice_body(), headers=write_headers())
    assert first.json()["id"] != second.json()["id"]
