"""Settling a pending payment through the payments sandbox's admin surface, and that
surface switched off."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.seed import (
    FAILED_PAYMENT_ID,
    GB_BUSINESS_ID,
    IN_BUSINESS_ID,
    IN_LARGE_INVOICE_ID,
    PAYMENTS,
    PENDING_PAYMENT_ID,
    SUCCEEDED_PAYMENT_ID,
)
from tests.sandbox import expected
from tests.sandbox.conftest import Apps, contract_client
from tests.sandbox.helpers import assert_error, invalid_request, payment_body, write_headers


def settle_path(payment_id: str) -> str:
    return f"/_sandbox/payments/{payment_id}/settle"


async def balance(payments: httpx.AsyncClient, business_id: str) -> dict[str, dict[str, int]]:
    """{"available": {currency: amount}, "pending": {...}} of one business."""
    response = await payments.get("/v1/balances", params={"business_ids": business_id})
    entry = response.json()["data"][0]
    return {
        side: {m["currency"]: m["amount"] for m in entry[side]} for side in ("available", "pending")
    }


async def test_a_succeeded_transfer_moves_from_pending_to_available(
    payments: httpx.AsyncClient,
) -> None:
    # given a pending bank transfer and the balance before
    pending = expected.payment(PENDING_PAYMENT_ID)
    assert pending["status"] == "pending"
    before = await balance(payments, GB_BUSINESS_ID)
    # when the bank settles it
    settled = await payments.post(settle_path(PENDING_PAYMENT_ID), json={"status": "succeeded"})
    # then the answer is the payment, as the contract's GET shows it from now on
    assert settled.status_code == 200
    assert settled.json() == {**pending, "status": "succeeded", "failure_code": None}
    fetched = await payments.get(f"/v1/payments/{PENDING_PAYMENT_ID}")
    assert fetched.json() == settled.json()
    # and the money is available, no longer pending
    after = await balance(payments, GB_BUSINESS_ID)
    amount = pending["amount"]
    assert after["available"]["GBP"] == before["available"]["GBP"] + amount
    assert after["pending"]["GBP"] == before["pending"]["GBP"] - amount


@pytest.mark.parametrize(
    ("body", "failure_code"),
    [
        ({"status": "failed"}, "insufficient_funds"),
        ({"status": "failed", "failure_code": None}, "insufficient_funds"),
        ({"status": "failed", "failure_code": "card_declined"}, "card_declined"),
        ({"status": "failed", "failure_code": "insufficient_funds"}, "insufficient_funds"),
    ],
)
async def test_a_failed_transfer_leaves_pending_and_never_becomes_available(
    payments: httpx.AsyncClient, body: dict[str, Any], failure_code: str
) -> None:
    before = await balance(payments, GB_BUSINESS_ID)
    pending = expected.payment(PENDING_PAYMENT_ID)

    settled = await payments.post(settle_path(PENDING_PAYMENT_ID), json=body)

    assert settled.status_code == 200
    assert settled.json() == {**pending, "status": "failed", "failure_code": failure_code}
    assert (await payments.get(f"/v1/payments/{PENDING_PAYMENT_ID}")).json() == settled.json()
    after = await balance(payments, GB_BUSINESS_ID)
    assert after["available"] == before["available"]
    assert after["pending"]["GBP"] == before["pending"]["GBP"] - pending["amount"]


async def test_a_transfer_taken_through_the_api_settles_and_its_replay_stays_as_answered(
    payments: httpx.AsyncClient,
) -> None:
    # given a bank transfer taken now
    body = payment_body(payment_method="pm_bank_transfer", amount=2**31 + 7)
    taken = await payments.post("/v1/payments", json=body, headers=write_headers("k-transfer"))
    assert taken.json()["status"] == "pending"
    # when it settles
    settled = await payments.post(settle_path(taken.json()["id"]), json={"status": "succeeded"})
    # then it is succeeded, and a retry of the charge replays the answer given then
    assert settled.json() == {**taken.json(), "status": "succeeded"}
    replay = await payments.post("/v1/payments", json=body, headers=write_headers("k-transfer"))
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == taken.json()


async def test_a_pending_amount_above_2_pow_31_settles_exactly(
    payments: httpx.AsyncClient,
) -> None:
    transfer = next(
        p for p in PAYMENTS if p.invoice_id == IN_LARGE_INVOICE_ID and p.status == "pending"
    )
    assert transfer.amount > 2**31
    before = await balance(payments, IN_BUSINESS_ID)

    await payments.post(settle_path(transfer.id), json={"status": "succeeded"})

    after = await balance(payments, IN_BUSINESS_ID)
    assert after["available"]["INR"] - before["available"]["INR"] == transfer.amount
    assert before["pending"]["INR"] - after["pending"]["INR"] == transfer.amount


@pytest.mark.parametrize(
    ("payment_id", "status"),
    [(SUCCEEDED_PAYMENT_ID, "succeeded"), (FAILED_PAYMENT_ID, "failed")],
)
async def test_only_a_pending_payment_settles(
    payments: httpx.AsyncClient, payment_id: str, status: str
) -> None:
    response = await payments.post(settle_path(payment_id), json={"status": "succeeded"})
    assert_error(response, 409, "conflict_error", "invalid_state", None)
    assert (await payments.get(f"/v1/payments/{payment_id}")).json()["status"] == status


async def test_a_payment_settles_once(payments: httpx.AsyncClient) -> None:
    first = await payments.post(settle_path(PENDING_PAYMENT_ID), json={"status": "failed"})
    second = await payments.post(settle_path(PENDING_PAYMENT_ID), json={"status": "succeeded"})
    assert first.status_code == 200
    assert_error(second, 409, "conflict_error", "invalid_state", None)
    assert (await payments.get(f"/v1/payments/{PENDING_PAYMENT_ID}")).json()["status"] == "failed"


@pytest.mark.parametrize("payment_id", ["pay_unknown", "nope", "re_GB0001"])
async def test_an_unknown_payment_is_resource_missing(
    payments: httpx.AsyncClient, payment_id: str
) -> None:
    response = await payments.post(settle_path(payment_id), json={"status": "succeeded"})
    assert_error(response, 404, "not_found_error", "resource_missing", "payment_id")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "status"),
        ({"status": "pending"}, "status"),
        ({"status": "refunded"}, "status"),
        ({"status": "succeeded", "failure_code": "card_declined"}, "failure_code"),
        ({"status": "failed", "failure_code": "expired_card"}, "failure_code"),
        ({"status": "failed", "failure_code": 1}, "failure_code"),
        ({"status": "succeeded", "when": "now"}, "when"),
        ([], None),
        ("succeeded", None),
    ],
)
async def test_a_bad_body_is_invalid_request_and_changes_nothing(
    payments: httpx.AsyncClient, body: Any, param: str | None
) -> None:
    response = await payments.post(settle_path(PENDING_PAYMENT_ID), json=body)
    invalid_request(response, param)
    fetched = await payments.get(f"/v1/payments/{PENDING_PAYMENT_ID}")
    assert fetched.json() == expected.payment(PENDING_PAYMENT_ID)


async def test_a_body_that_is_not_json_is_invalid_request(payments: httpx.AsyncClient) -> None:
    response = await payments.post(settle_path(PENDING_PAYMENT_ID), content=b"{status")
    invalid_request(response, None)


async def test_settling_needs_the_service_token(payments: httpx.AsyncClient) -> None:
    response = await payments.post(
        settle_path(PENDING_PAYMENT_ID),
        json={"status": "succeeded"},
        headers={"Authorization": "Bearer wrong"},
    )
    assert_error(response, 401, "authentication_error", "unauthenticated", None)
    fetched = await payments.get(f"/v1/payments/{PENDING_PAYMENT_ID}")
    assert fetched.json()["status"] == "pending"


async def test_reset_restores_the_pending_payment(payments: httpx.AsyncClient) -> None:
    await payments.post(settle_path(PENDING_PAYMENT_ID), json={"status": "succeeded"})
    await payments.post("/_sandbox/reset")
    fetched = await payments.get(f"/v1/payments/{PENDING_PAYMENT_ID}")
    assert fetched.json() == expected.payment(PENDING_PAYMENT_ID)


# -- the admin surface switched off ------------------------------------------------------

ADMIN_REQUESTS = [
    ("POST", settle_path(PENDING_PAYMENT_ID), {"status": "succeeded"}),
    ("GET", "/_sandbox/faults", None),
    ("PUT", "/_sandbox/faults", {"fail_next": 1}),
    ("DELETE", "/_sandbox/faults", None),
    ("GET", "/_sandbox/variant", None),
    ("PUT", "/_sandbox/variant", {"omit_nulls": True}),
    ("GET", "/_sandbox/calls", None),
    ("DELETE", "/_sandbox/calls", None),
    ("POST", "/_sandbox/reset", None),
]


@pytest.mark.parametrize("service", ["payments", "invoicing"])
async def test_with_admin_off_every_admin_route_is_an_unknown_path(
    apps: Apps, service: str
) -> None:
    # given a sandbox built with its admin surface off
    app = apps.payments(admin=False) if service == "payments" else apps.invoicing(admin=False)
    async with contract_client(app, service, f"http://{service}.test") as client:
        # when each admin route is asked for, with the right token
        responses = [
            await client.request(method, path, json=body) for method, path, body in ADMIN_REQUESTS
        ]
        # then each is 404, and nothing happened
        for response in responses:
            assert_error(response, 404, "not_found_error", "resource_missing", None)
        if service == "payments":
            fetched = await client.get(f"/v1/payments/{PENDING_PAYMENT_ID}")
            assert fetched.json() == expected.payment(PENDING_PAYMENT_ID)
            served = await client.get("/v1/balances", params={"business_ids": GB_BUSINESS_ID})
            assert served.status_code == 200


async def test_with_admin_off_the_token_is_still_checked_first(apps: Apps) -> None:
    app = apps.payments(admin=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://payments.test"
    ) as client:
        response = await client.post(settle_path(PENDING_PAYMENT_ID), json={"status": "failed"})
    assert_error(response, 401, "authentication_error", "unauthenticated", None)


async def test_the_admin_surface_is_on_by_default(apps: Apps) -> None:
    async with contract_client(apps.payments(), "payments", "http://payments.test") as client:
        response = await client.post(settle_path(PENDING_PAYMENT_ID), json={"status": "failed"})
    assert response.status_code == 200
