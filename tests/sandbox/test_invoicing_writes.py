"""POST endpoints of the invoicing contract: creation, totals, state changes and 409s."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from sandbox.seed import (
    GB_BUSINESS_ID,
    GB_CUSTOMER_ID,
    GB_DRAFT_INVOICE_ID,
    GB_OPEN_INVOICE_ID,
    GB_PAID_INVOICE_ID,
    GB_PARTLY_PAID_INVOICE_ID,
    GB_VOID_INVOICE_ID,
    IN_BUSINESS_ID,
    IN_CUSTOMER_ID,
    INVOICES,
    SUCCEEDED_PAYMENT_ID,
)
from tests.sandbox import expected
from tests.sandbox.helpers import assert_error, invalid_request, invoice_body, write_headers

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def new_id(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"{prefix}[A-Za-z0-9]{{24}}")


# -- customers ---------------------------------------------------------------------------


async def test_create_a_customer(invoicing: httpx.AsyncClient) -> None:
    # given
    body = {
        "business_id": GB_BUSINESS_ID,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone": "+44 20 0000 0000",
    }
    # when
    created = await invoicing.post("/v1/customers", json=body, headers=write_headers())
    # then
    assert created.status_code == 201
    customer = created.json()
    assert new_id("cus_").fullmatch(customer["id"])
    assert TIMESTAMP.fullmatch(customer["created_at"])
    assert customer == {
        **body,
        "id": customer["id"],
        "object": "customer",
        "created_at": customer["created_at"],
    }
    listed = await invoicing.get("/v1/customers", params={"business_id": GB_BUSINESS_ID})
    assert listed.json()["data"][0] == customer
    fetched = await invoicing.get("/v1/customers", params={"ids": customer["id"]})
    assert fetched.json()["data"] == [customer]


async def test_a_customer_without_contact_details(invoicing: httpx.AsyncClient) -> None:
    created = await invoicing.post(
        "/v1/customers",
        json={"business_id": IN_BUSINESS_ID, "name": "Ravi"},
        headers=write_headers(),
    )
    assert created.status_code == 201
    assert created.json()["email"] is None
    assert created.json()["phone"] is None


async def test_a_customer_of_an_unknown_business_is_404(invoicing: httpx.AsyncClient) -> None:
    response = await invoicing.post(
        "/v1/customers", json={"business_id": "biz_nobody", "name": "X"}, headers=write_headers()
    )
    assert_error(response, 404, "not_found_error", "resource_missing", "business_id")


CUSTOMER = {"business_id": GB_BUSINESS_ID, "name": "Ada"}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        pytest.param({"name": "Ada"}, "business_id", id="missing-business"),
        pytest.param({"business_id": GB_BUSINESS_ID}, "name", id="missing-name"),
        pytest.param({**CUSTOMER, "name": ""}, "name", id="empty-name"),
        pytest.param({**CUSTOMER, "name": "a" * 201}, "name", id="long-name"),
        pytest.param({**CUSTOMER, "name": 7}, "name", id="name-not-string"),
        pytest.param({**CUSTOMER, "email": "a" * 255}, "email", id="long-email"),
        pytest.param({**CUSTOMER, "phone": "1" * 33}, "phone", id="long-phone"),
        pytest.param({**CUSTOMER, "phone": 4420}, "phone", id="phone-not-string"),
        pytest.param({**CUSTOMER, "business_id": "GB"}, "business_id", id="bad-business-id"),
        pytest.param({**CUSTOMER, "vip": True}, "vip", id="additional-property"),
        pytest.param([CUSTOMER], None, id="array"),
        pytest.param("Ada", None, id="string"),
    ],
)
async def test_customer_body_rules(
    invoicing: httpx.AsyncClient, body: Any, param: str | None
) -> None:
    response = await invoicing.post("/v1/customers", json=body, headers=write_headers())
    invalid_request(response, param)


@pytest.mark.parametrize("raw", [b"", b"{", b"business_id=biz_GBdemo", b"null"])
async def test_a_body_that_is_not_a_json_object_is_400(
    invoicing: httpx.AsyncClient, raw: bytes
) -> None:
    response = await invoicing.post(
        "/v1/customers",
        content=raw,
        headers={**write_headers(), "Content-Type": "application/json"},
    )
    invalid_request(response, None)


# -- invoices ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "bps", "subtotal", "tax"),
    [
        pytest.param([(2, 12_550)], 2000, 25_100, 5_020, id="plain"),
        pytest.param([(1, 1)], 5000, 1, 0, id="half-to-even-down"),
        pytest.param([(1, 3)], 5000, 3, 2, id="half-to-even-up"),
        pytest.param([(5, 5)], 1000, 25, 2, id="2.5-to-2"),
        pytest.param([(1, 15)], 1000, 15, 2, id="1.5-to-2"),
        pytest.param([(1, 16)], 1000, 16, 2, id="1.6-to-2"),
        pytest.param([(1, 14)], 1000, 14, 1, id="1.4-to-1"),
        pytest.param([(3, 333), (1, 1)], 1750, 1000, 175, id="two-lines"),
        pytest.param([(1, 0)], 2000, 0, 0, id="free"),
        pytest.param([(7, 100)], 10_000, 700, 700, id="100-percent"),
    ],
)
async def test_invoice_totals(
    invoicing: httpx.AsyncClient,
    lines: list[tuple[int, int]],
    bps: int,
    subtotal: int,
    tax: int,
) -> None:
    # given
    body = invoice_body(
        tax_rate_bps=bps,
        lines=[
            {"description": f"L{n}", "quantity": q, "unit_amount": u}
            for n, (q, u) in enumerate(lines)
        ],
    )
    # when
    response = await invoicing.post("/v1/invoices", json=body, headers=write_headers())
    # then
    assert response.status_code == 201
    invoice = response.json()
    assert tax == expected.tax_of(subtotal, bps)
    assert new_id("inv_").fullmatch(invoice["id"])
    assert TIMESTAMP.fullmatch(invoice["created_at"])
    assert invoice == {
        "id": invoice["id"],
        "object": "invoice",
        "business_id": GB_BUSINESS_ID,
        "customer_id": GB_CUSTOMER_ID,
        "number": "INV-000055",
        "status": "draft",
        "currency": "GBP",
        "lines": [
            {"description": f"L{n}", "quantity": q, "unit_amount": u, "amount": q * u}
            for n, (q, u) in enumerate(lines)
        ],
        "tax_rate_bps": bps,
        "subtotal": subtotal,
        "tax": tax,
        "total": subtotal + tax,
        "amount_paid": 0,
        "amount_due": subtotal + tax,
        "due_date": "2026-12-31",
        "payment_ids": [],
        "created_at": invoice["created_at"],
        "updated_at": invoice["created_at"],
    }


async def test_tax_rate_defaults_to_zero(invoicing: httpx.AsyncClient) -> None:
    body = invoice_body()
    del body["tax_rate_bps"]
    response = await invoicing.post("/v1/invoices", json=body, headers=write_headers())
    assert (response.json()["tax_rate_bps"], response.json()["tax"]) == (0, 0)


async def test_invoice_numbers_are_a_sequence_per_business(invoicing: httpx.AsyncClient) -> None:
    seeded_gb = sum(1 for i in INVOICES if i.business_id == GB_BUSINESS_ID)
    seeded_in = sum(1 for i in INVOICES if i.business_id == IN_BUSINESS_ID)
    numbers = []
    for business_id, customer_id in [
        (GB_BUSINESS_ID, GB_CUSTOMER_ID),
        (GB_BUSINESS_ID, GB_CUSTOMER_ID),
        (IN_BUSINESS_ID, IN_CUSTOMER_ID),
    ]:
        body = invoice_body(business_id=business_id, customer_id=customer_id, currency="INR")
        response = await invoicing.post("/v1/invoices", json=body, headers=write_headers())
        numbers.append(response.json()["number"])
    assert numbers == [
        f"INV-{seeded_gb + 1:06d}",
        f"INV-{seeded_gb + 2:06d}",
        f"INV-{seeded_in + 1:06d}",
    ]


async def test_the_largest_invoice_the_contract_allows_is_exact(
    invoicing: httpx.AsyncClient,
) -> None:
    # given 100 lines of 1,000,000 x 100,000,000,000 at 100% tax: far beyond 64 bits
    line = {"description": "max", "quantity": 1_000_000, "unit_amount": 100_000_000_000}
    body = invoice_body(lines=[line] * 100, tax_rate_bps=10_000)
    # when
    created = await invoicing.post("/v1/invoices", json=body, headers=write_headers())
    fetched = await invoicing.get(f"/v1/invoices/{created.json()['id']}")
    # then
    assert created.status_code == 201
    assert fetched.json()["subtotal"] == 10**19
    assert fetched.json()["total"] == 2 * 10**19
    assert fetched.json()["amount_due"] == 2 * 10**19


@pytest.mark.parametrize(
    ("overrides", "status", "error_type", "code", "param"),
    [
        pytest.param(
            {"business_id": "biz_nobody"},
            404,
            "not_found_error",
            "resource_missing",
            "business_id",
            id="unknown-business",
        ),
        pytest.param(
            {"customer_id": "cus_nobody"},
            404,
            "not_found_error",
            "resource_missing",
            "customer_id",
            id="unknown-customer",
        ),
        pytest.param(
            {"customer_id": IN_CUSTOMER_ID},
            409,
            "conflict_error",
            "customer_business_mismatch",
            "customer_id",
            id="customer-of-another-business",
        ),
        pytest.param(
            {"business_id": "biz_nobody", "customer_id": "cus_nobody"},
            404,
            "not_found_error",
            "resource_missing",
            "business_id",
            id="business-checked-first",
        ),
    ],
)
async def test_invoice_business_rules(
    invoicing: httpx.AsyncClient,
    overrides: dict[str, str],
    status: int,
    error_type: str,
    code: str,
    param: str,
) -> None:
    response = await invoicing.post(
        "/v1/invoices", json=invoice_body(**overrides), headers=write_headers()
    )
    assert_error(response, status, error_type, code, param)


LINE = {"description": "x", "quantity": 1, "unit_amount": 1}


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        pytest.param({"currency": "CHF"}, "currency", id="currency-not-in-enum"),
        pytest.param({"currency": "gbp"}, "currency", id="currency-lowercase"),
        pytest.param({"due_date": "2026-13-01"}, "due_date", id="due-month-13"),
        pytest.param({"due_date": "31/12/2026"}, "due_date", id="due-not-iso"),
        pytest.param({"due_date": 20261231}, "due_date", id="due-number"),
        pytest.param({"tax_rate_bps": 10_001}, "tax_rate_bps", id="bps-too-high"),
        pytest.param({"tax_rate_bps": -1}, "tax_rate_bps", id="bps-negative"),
        pytest.param({"tax_rate_bps": 20.0}, "tax_rate_bps", id="bps-float"),
        pytest.param({"tax_rate_bps": True}, "tax_rate_bps", id="bps-bool"),
        pytest.param({"tax_rate_bps": "2000"}, "tax_rate_bps", id="bps-string"),
        pytest.param({"lines": []}, "lines", id="no-lines"),
        pytest.param({"lines": [LINE] * 101}, "lines", id="101-lines"),
        pytest.param({"lines": {"0": LINE}}, "lines", id="lines-object"),
        pytest.param({"lines": [{**LINE, "amount": 1}]}, "lines.0.amount", id="line-extra"),
        pytest.param({"lines": [{**LINE, "quantity": 0}]}, "lines.0.quantity", id="qty-0"),
        pytest.param(
            {"lines": [{**LINE, "quantity": 1_000_001}]}, "lines.0.quantity", id="qty-max"
        ),
        pytest.param({"lines": [{**LINE, "quantity": 1.0}]}, "lines.0.quantity", id="qty-float"),
        pytest.param(
            {"lines": [{**LINE, "unit_amount": -1}]}, "lines.0.unit_amount", id="unit-neg"
        ),
        pytest.param(
            {"lines": [{**LINE, "unit_amount": 100_000_000_001}]},
            "lines.0.unit_amount",
            id="unit-max",
        ),
        pytest.param(
            {"lines": [LINE, {**LINE, "unit_amount": 9.99}]}, "lines.1.unit_amount", id="unit-float"
        ),
        pytest.param({"lines": [{**LINE, "description": ""}]}, "lines.0.description", id="desc-0"),
        pytest.param(
            {"lines": [{**LINE, "description": "d" * 501}]}, "lines.0.description", id="desc-501"
        ),
        pytest.param(
            {"lines": [{"quantity": 1, "unit_amount": 1}]}, "lines.0.description", id="desc-missing"
        ),
        pytest.param({"customer_id": "customer_1"}, "customer_id", id="bad-customer-id"),
        pytest.param({"status": "open"}, "status", id="additional-property"),
    ],
)
async def test_invoice_body_rules(
    invoicing: httpx.AsyncClient, overrides: dict[str, Any], param: str
) -> None:
    response = await invoicing.post(
        "/v1/invoices", json=invoice_body(**overrides), headers=write_headers()
    )
    invalid_request(response, param)


@pytest.mark.parametrize("field", ["business_id", "customer_id", "currency", "due_date", "lines"])
async def test_invoice_required_fields(invoicing: httpx.AsyncClient, field: str) -> None:
    body = invoice_body()
    del body[field]
    response = await invoicing.post("/v1/invoices", json=body, headers=write_headers())
    invalid_request(response, field)


# -- finalize and void -------------------------------------------------------------------


async def test_finalize_a_draft(invoicing: httpx.AsyncClient) -> None:
    # when
    response = await invoicing.post(
        f"/v1/invoices/{GB_DRAFT_INVOICE_ID}/finalize", headers=write_headers()
    )
    # then
    assert response.status_code == 200
    before = expected.invoice(GB_DRAFT_INVOICE_ID)
    after = response.json()
    assert after["updated_at"] > before["updated_at"]
    assert after == {**before, "status": "open", "updated_at": after["updated_at"]}
    fetched = await invoicing.get(f"/v1/invoices/{GB_DRAFT_INVOICE_ID}")
    assert fetched.json() == after


@pytest.mark.parametrize("invoice_id", [GB_OPEN_INVOICE_ID, GB_PAID_INVOICE_ID, GB_VOID_INVOICE_ID])
async def test_only_a_draft_can_be_finalized(invoicing: httpx.AsyncClient, invoice_id: str) -> None:
    response = await invoicing.post(f"/v1/invoices/{invoice_id}/finalize", headers=write_headers())
    assert_error(response, 409, "conflict_error", "invalid_state", None)


@pytest.mark.parametrize("action", ["finalize", "void"])
@pytest.mark.parametrize("invoice_id", ["inv_nothere", "bogus"])
async def test_state_change_of_an_unknown_invoice_is_404(
    invoicing: httpx.AsyncClient, action: str, invoice_id: str
) -> None:
    response = await invoicing.post(f"/v1/invoices/{invoice_id}/{action}", headers=write_headers())
    assert_error(response, 404, "not_found_error", "resource_missing", "invoice_id")


@pytest.mark.parametrize("invoice_id", [GB_DRAFT_INVOICE_ID, GB_OPEN_INVOICE_ID])
async def test_void_a_draft_or_unpaid_open_invoice(
    invoicing: httpx.AsyncClient, invoice_id: str
) -> None:
    response = await invoicing.post(f"/v1/invoices/{invoice_id}/void", headers=write_headers())
    assert response.status_code == 200
    after = response.json()
    assert after == {
        **expected.invoice(invoice_id),
        "status": "void",
        "updated_at": after["updated_at"],
    }
    assert after["updated_at"] > expected.invoice(invoice_id)["updated_at"]


@pytest.mark.parametrize(
    "invoice_id", [GB_PARTLY_PAID_INVOICE_ID, GB_PAID_INVOICE_ID, GB_VOID_INVOICE_ID]
)
async def test_void_refuses_paid_partly_paid_and_void(
    invoicing: httpx.AsyncClient, invoice_id: str
) -> None:
    response = await invoicing.post(f"/v1/invoices/{invoice_id}/void", headers=write_headers())
    assert_error(response, 409, "conflict_error", "invalid_state", None)


# -- recording payments ------------------------------------------------------------------


def record(payment_id: str, amount: int, currency: str = "GBP") -> dict[str, Any]:
    return {"payment_id": payment_id, "amount": amount, "currency": currency}


async def test_record_payments_until_paid(invoicing: httpx.AsyncClient) -> None:
    # given an open invoice with nothing paid
    before = expected.invoice(GB_OPEN_INVOICE_ID)
    total = before["total"]
    path = f"/v1/invoices/{GB_OPEN_INVOICE_ID}/payments"
    # when a first part is recorded
    first = await invoicing.post(path, json=record("pay_part1", 100), headers=write_headers())
    # then it stays open
    assert first.status_code == 200
    assert first.json() == {
        **before,
        "amount_paid": 100,
        "amount_due": total - 100,
        "payment_ids": ["pay_part1"],
        "updated_at": first.json()["updated_at"],
    }
    # when the rest is recorded
    rest = await invoicing.post(
        path, json=record("pay_part2", total - 100), headers=write_headers()
    )
    # then it is paid, payments oldest first
    assert rest.json() == {
        **before,
        "status": "paid",
        "amount_paid": total,
        "amount_due": 0,
        "payment_ids": ["pay_part1", "pay_part2"],
        "updated_at": rest.json()["updated_at"],
    }


@pytest.mark.parametrize(
    ("invoice_id", "body", "status", "error_type", "code", "param"),
    [
        pytest.param(
            "inv_nothere",
            record("pay_new", 1),
            404,
            "not_found_error",
            "resource_missing",
            "invoice_id",
            id="unknown-invoice",
        ),
        pytest.param(
            GB_OPEN_INVOICE_ID,
            record(SUCCEEDED_PAYMENT_ID, 1),
            409,
            "conflict_error",
            "payment_already_recorded",
            "payment_id",
            id="recorded-on-another-invoice",
        ),
        pytest.param(
            GB_PAID_INVOICE_ID,
            record(SUCCEEDED_PAYMENT_ID, 1),
            409,
            "conflict_error",
            "payment_already_recorded",
            "payment_id",
            id="already-recorded-before-invalid-state",
        ),
        pytest.param(
            GB_DRAFT_INVOICE_ID,
            record("pay_new", 1),
            409,
            "conflict_error",
            "invalid_state",
            None,
            id="draft",
        ),
        pytest.param(
            GB_PAID_INVOICE_ID,
            record("pay_new", 1),
            409,
            "conflict_error",
            "invalid_state",
            None,
            id="paid",
        ),
        pytest.param(
            GB_VOID_INVOICE_ID,
            record("pay_new", 1),
            409,
            "conflict_error",
            "invalid_state",
            None,
            id="void",
        ),
        pytest.param(
            GB_OPEN_INVOICE_ID,
            record("pay_new", 1, "EUR"),
            409,
            "conflict_error",
            "currency_mismatch",
            "currency",
            id="currency",
        ),
        pytest.param(
            GB_OPEN_INVOICE_ID,
            record("pay_new", expected.invoice(GB_OPEN_INVOICE_ID)["amount_due"] + 1),
            409,
            "conflict_error",
            "amount_exceeds_due",
            "amount",
            id="too-much",
        ),
        pytest.param(
            GB_PARTLY_PAID_INVOICE_ID,
            record("pay_new", expected.invoice(GB_PARTLY_PAID_INVOICE_ID)["amount_due"] + 1),
            409,
            "conflict_error",
            "amount_exceeds_due",
            "amount",
            id="too-much-partly-paid",
        ),
        pytest.param(
            GB_OPEN_INVOICE_ID,
            record("pay_new", 0),
            400,
            "invalid_request_error",
            "invalid_request",
            "amount",
            id="zero",
        ),
        pytest.param(
            "inv_nothere",
            record("pay_new", 1.5),  # type: ignore[arg-type]
            400,
            "invalid_request_error",
            "invalid_request",
            "amount",
            id="body-before-404",
        ),
        pytest.param(
            GB_OPEN_INVOICE_ID,
            record("payment-1", 1),
            400,
            "invalid_request_error",
            "invalid_request",
            "payment_id",
            id="bad-payment-id",
        ),
        pytest.param(
            GB_OPEN_INVOICE_ID,
            {**record("pay_new", 1), "note": "x"},
            400,
            "invalid_request_error",
            "invalid_request",
            "note",
            id="additional-property",
        ),
    ],
)
async def test_record_payment_rules(
    invoicing: httpx.AsyncClient,
    invoice_id: str,
    body: dict[str, Any],
    status: int,
    error_type: str,
    code: str,
    param: str | None,
) -> None:
    response = await invoicing.post(
        f"/v1/invoices/{invoice_id}/payments", json=body, headers=write_headers()
    )
    assert_error(response, status, error_type, code, param)
    unchanged = await invoicing.get(f"/v1/invoices/{GB_OPEN_INVOICE_ID}")
    assert unchanged.json() == expected.invoice(GB_OPEN_INVOICE_ID)


async def test_the_same_payment_cannot_be_recorded_twice(invoicing: httpx.AsyncClient) -> None:
    path = f"/v1/invoices/{GB_OPEN_INVOICE_ID}/payments"
    first = await invoicing.post(path, json=record("pay_once", 1), headers=write_headers("k1"))
    again = await invoicing.post(path, json=record("pay_once", 1), headers=write_headers("k2"))
    assert first.status_code == 200
    assert_error(again, 409, "conflict_error", "payment_already_recorded", "payment_id")


async def test_updated_at_moves_on_every_change(invoicing: httpx.AsyncClient) -> None:
    # given a new draft, when it is finalized and paid in two parts within a second
    created = (
        await invoicing.post("/v1/invoices", json=invoice_body(), headers=write_headers())
    ).json()
    invoice_id = created["id"]
    finalized = await invoicing.post(f"/v1/invoices/{invoice_id}/finalize", headers=write_headers())
    part = await invoicing.post(
        f"/v1/invoices/{invoice_id}/payments", json=record("pay_a1", 1), headers=write_headers()
    )
    rest = await invoicing.post(
        f"/v1/invoices/{invoice_id}/payments",
        json=record("pay_a2", created["total"] - 1),
        headers=write_headers(),
    )
    # then each change has a later updated_at; created_at never moves
    stamps = [r["updated_at"] for r in (created, finalized.json(), part.json(), rest.json())]
    assert stamps == sorted(set(stamps))
    assert {r["created_at"] for r in (finalized.json(), part.json(), rest.json())} == {
        created["created_at"]
    }
    assert rest.json()["status"] == "paid"
