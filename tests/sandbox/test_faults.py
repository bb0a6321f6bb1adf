"""Fault injection and the /_sandbox/ admin surface."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from sandbox.common.faults import FaultConfig
from sandbox.seed import (
    GB_BUSINESS_ID,
    GB_DRAFT_INVOICE_ID,
    GB_OPEN_INVOICE_ID,
    SUCCEEDED_PAYMENT_ID,
)
from tests.sandbox import expected
from tests.sandbox.conftest import TOKEN, Apps, contract_client
from tests.sandbox.contract import ContractViolationError
from tests.sandbox.helpers import assert_error, invalid_request, payment_body, write_headers

DEFAULTS: dict[str, Any] = {
    "latency_ms": 0,
    "fail_next": 0,
    "fail_status": 503,
    "retry_after": None,
    "malformed_next": 0,
    "invalid_next": 0,
    "hang_next": 0,
    "hang_after_commit": False,
    "redirect_next": 0,
    "redirect_to": "https://attacker.example/collect",
    "path_prefix": None,
    "method": None,
}
BALANCES = f"/v1/balances?business_ids={GB_BUSINESS_ID}"


async def set_faults(client: httpx.AsyncClient, **faults: Any) -> None:
    response = await client.put("/_sandbox/faults", json=faults)
    assert response.status_code == 200, response.text


async def payment_count(payments: httpx.AsyncClient) -> int:
    response = await payments.get("/v1/payments", params={"invoice_ids": GB_OPEN_INVOICE_ID})
    return len(response.json()["data"])


# -- the admin API -----------------------------------------------------------------------


async def test_put_get_and_delete_faults(payments: httpx.AsyncClient) -> None:
    # when
    put = await payments.put(
        "/_sandbox/faults", json={"fail_next": 2, "fail_status": 429, "method": "post"}
    )
    got = await payments.get("/_sandbox/faults")
    deleted = await payments.delete("/_sandbox/faults")
    # then
    want = {**DEFAULTS, "fail_next": 2, "fail_status": 429, "method": "POST"}
    assert (put.status_code, put.json()) == (200, want)
    assert got.json() == want
    assert (deleted.status_code, deleted.json()) == (200, DEFAULTS)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"fail_status": 418}, "fail_status"),
        ({"fail_next": -1}, "fail_next"),
        ({"latency_ms": 1.5}, "latency_ms"),
        ({"hang_after_commit": 1}, "hang_after_commit"),
        ({"explode": True}, "explode"),
        ([], None),
    ],
)
async def test_fault_settings_are_validated(
    payments: httpx.AsyncClient, body: Any, param: str | None
) -> None:
    response = await payments.put("/_sandbox/faults", json=body)
    invalid_request(response, param)


async def test_construction_faults_are_the_baseline(apps: Apps) -> None:
    app = apps.payments(faults=FaultConfig(latency_ms=50))
    async with contract_client(app, "payments", "http://payments.test") as payments:
        started = time.monotonic()
        await payments.get(BALANCES)
        assert time.monotonic() - started >= 0.05
        await set_faults(payments, fail_next=1)
        cleared = await payments.delete("/_sandbox/faults")
        assert cleared.json() == {**DEFAULTS, "latency_ms": 50}


# -- latency and failures ----------------------------------------------------------------


async def test_latency_slows_matching_requests_only(payments: httpx.AsyncClient) -> None:
    await set_faults(payments, latency_ms=150, path_prefix="/v1/balances")
    started = time.monotonic()
    await payments.get(BALANCES)
    slow = time.monotonic() - started
    started = time.monotonic()
    await payments.get(f"/v1/payments/{SUCCEEDED_PAYMENT_ID}")
    fast = time.monotonic() - started
    assert slow >= 0.15
    assert fast < 0.1


@pytest.mark.parametrize(
    ("status", "retry_after", "error_type", "code", "header"),
    [
        (429, None, "rate_limit_error", "rate_limited", "1"),
        (429, 7, "rate_limit_error", "rate_limited", "7"),
        (500, 3, "api_error", "api_error", None),
        (502, None, "api_error", "api_error", None),
        (503, None, "api_error", "api_error", None),
        (503, 2, "api_error", "api_error", "2"),
        (504, None, "api_error", "api_error", None),
    ],
)
async def test_fail_next(
    payments: httpx.AsyncClient,
    status: int,
    retry_after: int | None,
    error_type: str,
    code: str,
    header: str | None,
) -> None:
    # given two failures of the chosen kind
    await set_faults(payments, fail_next=2, fail_status=status, retry_after=retry_after)
    # when three requests are sent
    responses = [await payments.get(BALANCES) for _ in range(3)]
    # then the first two fail, the third passes
    for failed in responses[:2]:
        assert_error(failed, status, error_type, code, None)
        assert failed.headers.get("Retry-After") == header
    assert responses[2].status_code == 200
    assert (await payments.get("/_sandbox/faults")).json()["fail_next"] == 0


async def test_a_failed_post_changes_nothing(payments: httpx.AsyncClient) -> None:
    before = await payment_count(payments)
    await set_faults(payments, fail_next=1, fail_status=429, method="POST")
    response = await payments.post("/v1/payments", json=payment_body(), headers=write_headers("k"))
    assert_error(response, 429, "rate_limit_error", "rate_limited", None)
    assert await payment_count(payments) == before


async def test_a_failure_comes_before_any_other_check(payments: httpx.AsyncClient) -> None:
    # given a request that would be refused for its missing actor and key
    await set_faults(payments, fail_next=1, fail_status=502)
    # when
    response = await payments.post("/v1/payments", content=b"junk")
    # then
    assert_error(response, 502, "api_error", "api_error", None)


async def test_a_replay_fails_too_while_failures_are_injected(
    payments: httpx.AsyncClient,
) -> None:
    first = await payments.post("/v1/payments", json=payment_body(), headers=write_headers("k"))
    await set_faults(payments, fail_next=1, fail_status=500)
    failed = await payments.post("/v1/payments", json=payment_body(), headers=write_headers("k"))
    replay = await payments.post("/v1/payments", json=payment_body(), headers=write_headers("k"))
    assert first.status_code == 201
    assert_error(failed, 500, "api_error", "api_error", None)
    assert (replay.status_code, replay.content) == (201, first.content)
    assert replay.headers["Idempotent-Replayed"] == "true"


async def test_faults_apply_only_to_matching_requests(payments: httpx.AsyncClient) -> None:
    # given a failure for refunds only
    await set_faults(payments, fail_next=1, path_prefix="/v1/payments/", method="POST")
    # when other requests come first
    other_path = await payments.post(
        "/v1/payments", json=payment_body(), headers=write_headers("k1")
    )
    other_method = await payments.get(f"/v1/payments/{SUCCEEDED_PAYMENT_ID}")
    refund = await payments.post(
        f"/v1/payments/{SUCCEEDED_PAYMENT_ID}/refunds",
        json={"amount": 1},
        headers=write_headers("k2"),
    )
    # then only the matching one failed
    assert other_path.status_code == 201
    assert other_method.status_code == 200
    assert_error(refund, 503, "api_error", "api_error", None)


# -- corrupt responses -------------------------------------------------------------------


async def test_malformed_next_corrupts_the_body_but_not_the_outcome(
    payments: httpx.AsyncClient,
) -> None:
    # given
    before = await payment_count(payments)
    await set_faults(payments, malformed_next=1)
    # when the request's answer comes back cut short
    with pytest.raises(ContractViolationError, match="body is not JSON"):
        await payments.post("/v1/payments", json=payment_body(), headers=write_headers("k"))
    # then the payment was made, and a retry with the key replays the intact answer
    assert await payment_count(payments) == before + 1
    replay = await payments.post("/v1/payments", json=payment_body(), headers=write_headers("k"))
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"


async def test_a_malformed_body_keeps_its_status(invoicing_app: Any) -> None:
    # a client without contract checks sees what the gateway would see
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=invoicing_app),
        base_url="http://invoicing.test",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as raw:
        await set_faults(raw, malformed_next=1)
        response = await raw.get(f"/v1/invoices/{GB_OPEN_INVOICE_ID}")
        intact = await raw.get(f"/v1/invoices/{GB_OPEN_INVOICE_ID}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert intact.content.startswith(response.content)
    assert len(response.content) < len(intact.content)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (f"/v1/payments/{SUCCEEDED_PAYMENT_ID}", "is not of type 'integer'"),
        (BALANCES, "'object' is a required property"),
        ("/v1/payments/pay_unknown", "'code' is a required property"),
        ("/v1/payments?business_id=biz_none", "is not of type 'boolean'"),
    ],
)
async def test_invalid_next_breaks_the_schema(
    payments: httpx.AsyncClient, path: str, message: str
) -> None:
    await set_faults(payments, invalid_next=1)
    with pytest.raises(ContractViolationError, match=message):
        await payments.get(path)
    assert (await payments.get(path)).status_code in (200, 404)


# -- hangs -------------------------------------------------------------------------------


async def test_hang_next_before_doing_anything(invoicing: httpx.AsyncClient) -> None:
    # given
    await set_faults(invoicing, hang_next=1)
    path = f"/v1/invoices/{GB_DRAFT_INVOICE_ID}/finalize"
    # when the caller gives up waiting
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(invoicing.post(path, headers=write_headers("k")), 0.2)
    # then nothing was done and the key is free: a retry runs for the first time
    unchanged = await invoicing.get(f"/v1/invoices/{GB_DRAFT_INVOICE_ID}")
    assert unchanged.json() == expected.invoice(GB_DRAFT_INVOICE_ID)
    retry = await invoicing.post(path, headers=write_headers("k"))
    assert retry.status_code == 200
    assert "idempotent-replayed" not in retry.headers


async def test_hang_after_commit_is_a_lost_response(payments: httpx.AsyncClient) -> None:
    # given
    before = await payment_count(payments)
    await set_faults(payments, hang_next=1, hang_after_commit=True)
    # when the answer never arrives
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(
            payments.post("/v1/payments", json=payment_body(), headers=write_headers("k")), 0.2
        )
    # then the payment was made once, and the retry with the same key replays it
    assert await payment_count(payments) == before + 1
    retry = await payments.post("/v1/payments", json=payment_body(), headers=write_headers("k"))
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert await payment_count(payments) == before + 1


async def test_a_request_cancelled_during_latency_frees_its_key(
    payments: httpx.AsyncClient,
) -> None:
    await set_faults(payments, latency_ms=1000, method="POST")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(
            payments.post("/v1/payments", json=payment_body(), headers=write_headers("k")), 0.1
        )
    await payments.delete("/_sandbox/faults")
    retry = await payments.post("/v1/payments", json=payment_body(), headers=write_headers("k"))
    assert retry.status_code == 201
    assert "idempotent-replayed" not in retry.headers


# -- calls and reset ---------------------------------------------------------------------


async def test_calls_are_recorded_with_forwarded_headers(payments: httpx.AsyncClient) -> None:
    # given
    await payments.delete("/_sandbox/calls")
    # when
    await payments.get(BALANCES, headers={"X-Request-Id": "req-1", "traceparent": "00-abc-def-01"})
    await payments.post(
        "/v1/payments",
        json=payment_body(),
        headers={**write_headers("key-9"), "X-Request-Id": "req-2"},
    )
    await payments.get("/_sandbox/faults")
    await payments.get(BALANCES, headers={"Authorization": "Bearer wrong"})
    calls = await payments.get("/_sandbox/calls")
    # then admin calls are left out; refused calls are still calls received
    assert calls.json() == {
        "object": "list",
        "data": [
            {
                "method": "GET",
                "path": "/v1/balances",
                "query": f"business_ids={GB_BUSINESS_ID}",
                "headers": {
                    "idempotency-key": None,
                    "x-actor-id": None,
                    "x-request-id": "req-1",
                    "traceparent": "00-abc-def-01",
                },
            },
            {
                "method": "POST",
                "path": "/v1/payments",
                "query": "",
                "headers": {
                    "idempotency-key": "key-9",
                    "x-actor-id": "user_alice",
                    "x-request-id": "req-2",
                    "traceparent": None,
                },
            },
            {
                "method": "GET",
                "path": "/v1/balances",
                "query": f"business_ids={GB_BUSINESS_ID}",
                "headers": {
                    "idempotency-key": None,
                    "x-actor-id": None,
                    "x-request-id": None,
                    "traceparent": None,
                },
            },
        ],
        "has_more": False,
    }
    cleared = await payments.delete("/_sandbox/calls")
    assert cleared.status_code == 204
    assert (await payments.get("/_sandbox/calls")).json()["data"] == []


async def test_reset_restores_the_seed_and_clears_everything(
    invoicing: httpx.AsyncClient,
) -> None:
    # given changed data, a used key, faults and calls
    path = f"/v1/invoices/{GB_DRAFT_INVOICE_ID}/finalize"
    assert (await invoicing.post(path, headers=write_headers("k"))).status_code == 200
    await set_faults(invoicing, latency_ms=500)
    # when
    reset = await invoicing.post("/_sandbox/reset")
    # then
    assert (reset.status_code, reset.json()) == (200, {"reset": True})
    assert (await invoicing.get("/_sandbox/faults")).json() == DEFAULTS
    assert (await invoicing.get("/_sandbox/calls")).json()["data"] == []
    fetched = await invoicing.get(f"/v1/invoices/{GB_DRAFT_INVOICE_ID}")
    assert fetched.json() == expected.invoice(GB_DRAFT_INVOICE_ID)
    again = await invoicing.post(path, headers=write_headers("k"))
    assert again.status_code == 200
    assert "idempotent-replayed" not in again.headers


async def test_redirect_next_sends_the_caller_elsewhere_once(payments_app: Starlette) -> None:
    # A plain client: a redirect is outside the contract, which is the point of the fault.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=payments_app),
        base_url="http://payments.test",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as payments:
        await set_faults(payments, redirect_next=1, redirect_to="https://elsewhere.example/x")

        first = await payments.get(BALANCES)
        second = await payments.get(BALANCES)

    assert (first.status_code, first.headers["location"]) == (302, "https://elsewhere.example/x")
    assert second.status_code == 200
