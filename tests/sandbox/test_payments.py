"""The payments contract: charges per test method, reads, refunds and balances."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from sandbox.seed import (
    FAILED_PAYMENT_ID,
    FULLY_REFUNDED_PAYMENT_ID,
    GB_BUSINESS_ID,
    GB_OPEN_INVOICE_ID,
    GB_PAID_INVOICE_ID,
    IN_BUSINESS_ID,
    IN_OPEN_INVOICE_ID,
    PARTIAL_REFUND_ID,
    PARTIALLY_REFUNDED_PAYMENT_ID,
    PAYMENTS,
    PENDING_PAYMENT_ID,
    REFUNDS,
    SUCCEEDED_PAYMENT_ID,
    UPI_PAYMENT_ID,
)
from tests.sandbox import expected
from tests.sandbox.helpers import assert_error, invalid_request, payment_body, write_headers

NEW_PAYMENT_ID = re.compile(r"pay_[A-Za-z0-9]{24}")
NEW_REFUND_ID = re.compile(r"re_[A-Za-z0-9]{24}")
keys = iter(f"key-{n}" for n in range(10**6))


def headers() -> dict[str, str]:
    return write_headers(next(keys))


async def balance(payments: httpx.AsyncClient, business_id: str) -> dict[str, Any]:
    response = await payments.get("/v1/balances", params={"business_ids": business_id})
    result: dict[str, Any] = response.json()["data"][0]
    return result


def amount_in(money: list[dict[str, Any]], currency: str) -> int:
    amount: int = next(m["amount"] for m in money if m["currency"] == currency)
    return amount


# -- charging ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "currency", "status", "failure_code"),
    [
        ("pm_card_ok", "GBP", "succeeded", None),
        ("pm_card_declined", "GBP", "failed", "card_declined"),
        ("pm_card_insufficient_funds", "GBP", "failed", "insufficient_funds"),
        ("pm_upi_ok", "INR", "succeeded", None),
        ("pm_bank_transfer", "GBP", "pending", None),
        ("pm_bank_transfer", "KWD", "pending", None),
    ],
)
async def test_each_test_payment_method(
    payments: httpx.AsyncClient, method: str, currency: str, status: str, failure_code: str | None
) -> None:
    # given
    body = payment_body(payment_method=method, currency=currency, amount=2**31 + 5)
    # when
    response = await payments.post("/v1/payments", json=body, headers=headers())
    # then the payment exists whatever the outcome
    assert response.status_code == 201
    payment = response.json()
    assert NEW_PAYMENT_ID.fullmatch(payment["id"])
    assert payment == {
        "id": payment["id"],
        "object": "payment",
        "business_id": GB_BUSINESS_ID,
        "invoice_id": GB_OPEN_INVOICE_ID,
        "amount": 2**31 + 5,
        "currency": currency,
        "status": status,
        "failure_code": failure_code,
        "amount_refunded": 0,
        "payment_method": expected.PAYMENT_METHODS[method],
        "created_at": payment["created_at"],
    }
    fetched = await payments.get(f"/v1/payments/{payment['id']}")
    assert fetched.json() == payment


async def test_balances_follow_new_payments(payments: httpx.AsyncClient) -> None:
    # given
    before = await balance(payments, GB_BUSINESS_ID)
    # when one payment of each outcome is taken
    for method in ("pm_card_ok", "pm_card_declined", "pm_bank_transfer"):
        body = payment_body(payment_method=method, amount=1_000)
        assert (
            await payments.post("/v1/payments", json=body, headers=headers())
        ).status_code == 201
    # then only the succeeded one is available and the bank transfer is pending
    after = await balance(payments, GB_BUSINESS_ID)
    assert amount_in(after["available"], "GBP") == amount_in(before["available"], "GBP") + 1_000
    assert amount_in(after["pending"], "GBP") == amount_in(before["pending"], "GBP") + 1_000


async def test_the_service_does_not_check_the_invoice(payments: httpx.AsyncClient) -> None:
    body = payment_body(business_id="biz_brandnew", invoice_id="inv_unknown", currency="USD")
    response = await payments.post("/v1/payments", json=body, headers=headers())
    assert response.status_code == 201
    # and the business it was taken for becomes known to /v1/balances
    known = await balance(payments, "biz_brandnew")
    assert known == {
        "object": "balance",
        "business_id": "biz_brandnew",
        "available": [{"amount": 10_000, "currency": "USD"}],
        "pending": [{"amount": 0, "currency": "USD"}],
    }


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        pytest.param({"payment_method": "pm_card_unknown"}, "payment_method", id="unknown-method"),
        pytest.param({"payment_method": "pm_upi_ok"}, "payment_method", id="upi-not-inr"),
        pytest.param({"payment_method": ""}, "payment_method", id="empty-method"),
        pytest.param({"payment_method": "p" * 65}, "payment_method", id="long-method"),
        pytest.param({"amount": 0}, "amount", id="zero"),
        pytest.param({"amount": 100_000_000_001}, "amount", id="above-max"),
        pytest.param({"amount": 10.0}, "amount", id="float"),
        pytest.param({"amount": True}, "amount", id="bool"),
        pytest.param({"amount": "10"}, "amount", id="string"),
        pytest.param({"currency": "XAU"}, "currency", id="currency"),
        pytest.param({"business_id": "acme"}, "business_id", id="business-id"),
        pytest.param({"invoice_id": "pay_1"}, "invoice_id", id="invoice-id"),
        pytest.param({"metadata": {}}, "metadata", id="additional-property"),
    ],
)
async def test_payment_body_rules(
    payments: httpx.AsyncClient, overrides: dict[str, Any], param: str
) -> None:
    response = await payments.post(
        "/v1/payments", json=payment_body(**overrides), headers=headers()
    )
    invalid_request(response, param)


@pytest.mark.parametrize(
    "field", ["business_id", "invoice_id", "amount", "currency", "payment_method"]
)
async def test_payment_required_fields(payments: httpx.AsyncClient, field: str) -> None:
    body = payment_body()
    del body[field]
    response = await payments.post("/v1/payments", json=body, headers=headers())
    invalid_request(response, field)


# -- reads -------------------------------------------------------------------------------


async def test_get_one_payment(payments: httpx.AsyncClient) -> None:
    for payment_id in (UPI_PAYMENT_ID, PARTIALLY_REFUNDED_PAYMENT_ID, FAILED_PAYMENT_ID):
        response = await payments.get(f"/v1/payments/{payment_id}")
        assert response.json() == expected.payment(payment_id)


@pytest.mark.parametrize("payment_id", ["pay_missing", "inv_123", "x"])
async def test_an_unknown_payment_is_404(payments: httpx.AsyncClient, payment_id: str) -> None:
    response = await payments.get(f"/v1/payments/{payment_id}")
    assert_error(response, 404, "not_found_error", "resource_missing", "payment_id")


async def test_payments_by_ids(payments: httpx.AsyncClient) -> None:
    ids = [PENDING_PAYMENT_ID, "pay_unknown", SUCCEEDED_PAYMENT_ID]
    response = await payments.get("/v1/payments", params={"ids": ",".join(ids)})
    assert response.json() == {
        "object": "list",
        "data": [expected.payment(PENDING_PAYMENT_ID), expected.payment(SUCCEEDED_PAYMENT_ID)],
        "has_more": False,
    }


async def test_payments_by_invoice_ids_newest_first(payments: httpx.AsyncClient) -> None:
    invoice_ids = [GB_PAID_INVOICE_ID, "inv_unknown", IN_OPEN_INVOICE_ID]
    response = await payments.get("/v1/payments", params={"invoice_ids": ",".join(invoice_ids)})
    want = sorted(
        (p for p in PAYMENTS if p.invoice_id in invoice_ids),
        key=lambda p: (p.created_at, p.id),
        reverse=True,
    )
    assert want
    assert response.json() == {
        "object": "list",
        "data": [expected.payment(p.id) for p in want],
        "has_more": False,
    }


async def test_payments_of_a_business(payments: httpx.AsyncClient) -> None:
    response = await payments.get("/v1/payments", params={"business_id": IN_BUSINESS_ID})
    want = sorted(
        (p for p in PAYMENTS if p.business_id == IN_BUSINESS_ID),
        key=lambda p: (p.created_at, p.id),
        reverse=True,
    )[:20]
    assert response.json() == {
        "object": "list",
        "data": [expected.payment(p.id) for p in want],
        "has_more": True,
    }


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("", "ids"),
        (f"ids={SUCCEEDED_PAYMENT_ID}&invoice_ids={GB_PAID_INVOICE_ID}", "invoice_ids"),
        (f"invoice_ids={GB_PAID_INVOICE_ID}&business_id={GB_BUSINESS_ID}", "business_id"),
        ("invoice_ids=", "invoice_ids"),
        ("invoice_ids=" + ",".join(f"inv_{n}" for n in range(101)), "invoice_ids"),
        (f"invoice_ids={GB_PAID_INVOICE_ID}&limit=5", "limit"),
        (f"business_id={GB_BUSINESS_ID}&limit=0", "limit"),
        (f"business_id={GB_BUSINESS_ID}&starting_after=pay_nope", "starting_after"),
        (f"business_id={IN_BUSINESS_ID}&starting_after={SUCCEEDED_PAYMENT_ID}", "starting_after"),
        ("business_id=GB", "business_id"),
    ],
)
async def test_payment_listing_rules(payments: httpx.AsyncClient, query: str, param: str) -> None:
    response = await payments.get(f"/v1/payments?{query}")
    invalid_request(response, param)


async def test_refunds_by_ids_and_by_payment(payments: httpx.AsyncClient) -> None:
    by_ids = await payments.get("/v1/refunds", params={"ids": f"{PARTIAL_REFUND_ID},re_nope"})
    assert by_ids.json() == {
        "object": "list",
        "data": [expected.refund(PARTIAL_REFUND_ID)],
        "has_more": False,
    }
    payment_ids = [PARTIALLY_REFUNDED_PAYMENT_ID, FULLY_REFUNDED_PAYMENT_ID, SUCCEEDED_PAYMENT_ID]
    by_payment = await payments.get("/v1/refunds", params={"payment_ids": ",".join(payment_ids)})
    want = sorted(
        (r for r in REFUNDS if r.payment_id in payment_ids),
        key=lambda r: (r.created_at, r.id),
        reverse=True,
    )
    assert by_payment.json() == {
        "object": "list",
        "data": [expected.refund(r.id) for r in want],
        "has_more": False,
    }


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("", "ids"),
        (f"ids={PARTIAL_REFUND_ID}&payment_ids={SUCCEEDED_PAYMENT_ID}", "payment_ids"),
        ("payment_ids=", "payment_ids"),
        ("ids=" + ",".join(f"re_{n}" for n in range(101)), "ids"),
    ],
)
async def test_refund_listing_rules(payments: httpx.AsyncClient, query: str, param: str) -> None:
    response = await payments.get(f"/v1/refunds?{query}")
    invalid_request(response, param)


# -- refunds -----------------------------------------------------------------------------


async def test_refund_part_then_the_rest(payments: httpx.AsyncClient) -> None:
    # given a succeeded payment with nothing refunded
    payment = expected.payment(SUCCEEDED_PAYMENT_ID)
    before = await balance(payments, GB_BUSINESS_ID)
    path = f"/v1/payments/{SUCCEEDED_PAYMENT_ID}/refunds"
    # when part is refunded, with a reason
    part = await payments.post(
        path, json={"amount": 100, "reason": "requested_by_customer"}, headers=headers()
    )
    # then
    assert part.status_code == 201
    refund = part.json()
    assert NEW_REFUND_ID.fullmatch(refund["id"])
    assert refund == {
        "id": refund["id"],
        "object": "refund",
        "business_id": GB_BUSINESS_ID,
        "payment_id": SUCCEEDED_PAYMENT_ID,
        "amount": 100,
        "currency": payment["currency"],
        "status": "succeeded",
        "reason": "requested_by_customer",
        "created_at": refund["created_at"],
    }
    # when the rest is refunded, without a reason
    rest = await payments.post(path, json={"amount": payment["amount"] - 100}, headers=headers())
    assert rest.json()["reason"] is None
    # then the payment is fully refunded and the balance went down by its amount
    fetched = await payments.get(f"/v1/payments/{SUCCEEDED_PAYMENT_ID}")
    assert fetched.json() == {**payment, "amount_refunded": payment["amount"]}
    after = await balance(payments, GB_BUSINESS_ID)
    assert amount_in(after["available"], "GBP") == (
        amount_in(before["available"], "GBP") - payment["amount"]
    )
    listed = await payments.get("/v1/refunds", params={"payment_ids": SUCCEEDED_PAYMENT_ID})
    created = sorted([refund, rest.json()], key=lambda r: (r["created_at"], r["id"]), reverse=True)
    assert listed.json()["data"] == created


@pytest.mark.parametrize(
    ("payment_id", "body", "status", "error_type", "code", "param"),
    [
        pytest.param(
            "pay_nothere",
            {"amount": 1},
            404,
            "not_found_error",
            "resource_missing",
            "payment_id",
            id="unknown",
        ),
        pytest.param(
            FAILED_PAYMENT_ID,
            {"amount": 1},
            409,
            "conflict_error",
            "invalid_state",
            None,
            id="failed",
        ),
        pytest.param(
            PENDING_PAYMENT_ID,
            {"amount": 1},
            409,
            "conflict_error",
            "invalid_state",
            None,
            id="pending",
        ),
        pytest.param(
            FULLY_REFUNDED_PAYMENT_ID,
            {"amount": 1},
            409,
            "conflict_error",
            "amount_exceeds_refundable",
            "amount",
            id="fully-refunded",
        ),
        pytest.param(
            PARTIALLY_REFUNDED_PAYMENT_ID,
            {
                "amount": expected.payment(PARTIALLY_REFUNDED_PAYMENT_ID)["amount"]
                - expected.payment(PARTIALLY_REFUNDED_PAYMENT_ID)["amount_refunded"]
                + 1
            },
            409,
            "conflict_error",
            "amount_exceeds_refundable",
            "amount",
            id="more-than-left",
        ),
        pytest.param(
            SUCCEEDED_PAYMENT_ID,
            {"amount": 0},
            400,
            "invalid_request_error",
            "invalid_request",
            "amount",
            id="zero",
        ),
        pytest.param(
            SUCCEEDED_PAYMENT_ID,
            {"amount": 1, "reason": "changed_mind"},
            400,
            "invalid_request_error",
            "invalid_request",
            "reason",
            id="reason",
        ),
        pytest.param(
            SUCCEEDED_PAYMENT_ID,
            {},
            400,
            "invalid_request_error",
            "invalid_request",
            "amount",
            id="no-amount",
        ),
        pytest.param(
            "pay_nothere",
            {"amount": 1, "currency": "GBP"},
            400,
            "invalid_request_error",
            "invalid_request",
            "currency",
            id="body-before-404",
        ),
    ],
)
async def test_refund_rules(
    payments: httpx.AsyncClient,
    payment_id: str,
    body: dict[str, Any],
    status: int,
    error_type: str,
    code: str,
    param: str | None,
) -> None:
    response = await payments.post(
        f"/v1/payments/{payment_id}/refunds", json=body, headers=headers()
    )
    assert_error(response, status, error_type, code, param)


# -- balances ----------------------------------------------------------------------------


async def test_balances_of_known_businesses_only(payments: httpx.AsyncClient) -> None:
    response = await payments.get(
        "/v1/balances", params={"business_ids": f"biz_nobody,{IN_BUSINESS_ID},{GB_BUSINESS_ID}"}
    )
    data = response.json()["data"]
    assert [b["business_id"] for b in data] == [IN_BUSINESS_ID, GB_BUSINESS_ID]
    assert response.json()["has_more"] is False
    for entry in data:
        mine = [p for p in PAYMENTS if p.business_id == entry["business_id"]]
        for money in entry["available"]:
            settled = sum(
                p.amount
                for p in mine
                if p.status == "succeeded" and p.currency == money["currency"]
            )
            refunded = sum(
                r.amount
                for r in REFUNDS
                if r.business_id == entry["business_id"] and r.currency == money["currency"]
            )
            assert money["amount"] == settled - refunded
        for money in entry["pending"]:
            assert money["amount"] == sum(
                p.amount for p in mine if p.status == "pending" and p.currency == money["currency"]
            )
    india = data[0]
    assert india["available"][0]["currency"] == "INR"  # the default currency comes first
    assert amount_in(india["pending"], "INR") > 2**31


@pytest.mark.parametrize(
    "query",
    ["", "business_ids=", "business_ids=" + ",".join(f"biz_{n}" for n in range(101))],
)
async def test_balances_need_1_to_100_business_ids(payments: httpx.AsyncClient, query: str) -> None:
    response = await payments.get(f"/v1/balances?{query}")
    invalid_request(response, "business_ids")
