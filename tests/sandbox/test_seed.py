"""Seed invariants, checked through both services' APIs and against each other."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import httpx
import pytest

from sandbox import seed
from sandbox.seed.data import build
from tests.sandbox import expected


async def all_invoices(invoicing: httpx.AsyncClient, business_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"business_id": business_id, "limit": 100}
    while True:
        body = (await invoicing.get("/v1/invoices", params=params)).json()
        found += body["data"]
        if not body["has_more"]:
            return found
        params["starting_after"] = body["data"][-1]["id"]


async def payments_of(payments: httpx.AsyncClient, invoice_ids: list[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for start in range(0, len(invoice_ids), 100):
        chunk = ",".join(invoice_ids[start : start + 100])
        found += (await payments.get("/v1/payments", params={"invoice_ids": chunk})).json()["data"]
    return found


def test_demo_businesses() -> None:
    by_id = {b.id: b for b in seed.BUSINESSES}
    gb, india, kwd = (by_id[b] for b in seed.DEMO_BUSINESS_IDS)
    assert (gb.country, gb.default_currency) == ("GB", "GBP")
    assert gb.vat_number is not None
    assert re.fullmatch(r"GB\d{9}", gb.vat_number)
    assert (india.country, india.default_currency) == ("IN", "INR")
    assert india.vat_number is not None
    assert re.fullmatch(r"\d{2}[A-Z]{5}\d{4}[A-Z][1-9A-Z]Z[0-9A-Z]", india.vat_number)  # GSTIN
    assert kwd.default_currency == "KWD"
    assert kwd.country in ("GB", "IN")


@pytest.mark.parametrize("business_id", seed.DEMO_BUSINESS_IDS)
async def test_invoices_per_status(invoicing: httpx.AsyncClient, business_id: str) -> None:
    invoices = await all_invoices(invoicing, business_id)
    # judged at the seed's end, so that the test does not expire with the calendar
    seed_end = seed.SEED_LATEST[:10]
    statuses = Counter(i["status"] for i in invoices)
    assert len(invoices) >= 50
    assert statuses == {"draft": 10, "open": 19, "paid": 17, "void": 8}
    open_ = [i for i in invoices if i["status"] == "open"]
    assert any(0 < i["amount_paid"] < i["total"] for i in open_), "partly paid"
    assert any(i["due_date"] < seed_end and i["amount_paid"] == 0 for i in open_), "overdue"
    assert any(i["due_date"] > seed_end and i["amount_paid"] == 0 for i in open_), "not yet due"
    assert all(i["amount_paid"] == i["total"] > 0 for i in invoices if i["status"] == "paid")
    assert all(i["amount_paid"] == 0 for i in invoices if i["status"] in ("draft", "void"))
    default = next(b.default_currency for b in seed.BUSINESSES if b.id == business_id)
    assert any(i["currency"] != default for i in invoices)
    assert [i["number"] for i in reversed(invoices)] == [
        f"INV-{n:06d}" for n in range(1, len(invoices) + 1)
    ]


@pytest.mark.parametrize("business_id", seed.DEMO_BUSINESS_IDS)
async def test_customers_per_business(invoicing: httpx.AsyncClient, business_id: str) -> None:
    body = (
        await invoicing.get("/v1/customers", params={"business_id": business_id, "limit": 100})
    ).json()
    customers = body["data"]
    assert len(customers) >= 5
    assert any(c["phone"] is None for c in customers)
    assert any(c["email"] is None for c in customers)
    assert any(c["email"] is not None and c["phone"] is not None for c in customers)


async def test_the_two_services_agree(
    invoicing: httpx.AsyncClient, payments: httpx.AsyncClient
) -> None:
    for business_id in seed.DEMO_BUSINESS_IDS:
        # given every invoice and every payment taken for them
        invoices = {i["id"]: i for i in await all_invoices(invoicing, business_id)}
        taken = await payments_of(payments, list(invoices))
        listed: list[str] = []
        params: dict[str, Any] = {"business_id": business_id, "limit": 100}
        while True:
            page = (await payments.get("/v1/payments", params=params)).json()
            listed += [p["id"] for p in page["data"]]
            if not page["has_more"]:
                break
            params["starting_after"] = listed[-1]
        # every payment of the business is for one of its invoices
        assert sorted(listed) == sorted(p["id"] for p in taken)
        # then each invoice's record is exactly its succeeded payments, oldest first
        for invoice_id, invoice in invoices.items():
            mine = sorted(
                (p for p in taken if p["invoice_id"] == invoice_id),
                key=lambda p: (p["created_at"], p["id"]),
            )
            succeeded = [p for p in mine if p["status"] == "succeeded"]
            assert invoice["payment_ids"] == [p["id"] for p in succeeded], invoice_id
            assert invoice["amount_paid"] == sum(p["amount"] for p in succeeded), invoice_id
            for p in mine:
                assert p["business_id"] == invoice["business_id"]
                assert p["currency"] == invoice["currency"]
                assert p["created_at"] > invoice["created_at"]
                assert p["created_at"] <= invoice["updated_at"] or p["status"] != "succeeded"


def test_payments_cover_every_status_and_method() -> None:
    kinds = {(p.status, p.payment_method) for p in seed.PAYMENTS}
    assert kinds == {
        ("succeeded", "pm_card_ok"),
        ("succeeded", "pm_upi_ok"),
        ("failed", "pm_card_declined"),
        ("failed", "pm_card_insufficient_funds"),
        ("pending", "pm_bank_transfer"),
    }
    assert all(p.currency == "INR" for p in seed.PAYMENTS if p.payment_method == "pm_upi_ok")
    for business_id in seed.DEMO_BUSINESS_IDS:
        assert {p.status for p in seed.PAYMENTS if p.business_id == business_id} == {
            "succeeded",
            "failed",
            "pending",
        }


def test_refunds_are_partial_and_full_and_within_the_payment() -> None:
    refunded = Counter[str]()
    for r in seed.REFUNDS:
        refunded[r.payment_id] += r.amount
    by_id = {p.id: p for p in seed.PAYMENTS}
    for payment_id, amount in refunded.items():
        payment = by_id[payment_id]
        assert payment.status == "succeeded"
        assert payment.amount_refunded == amount <= payment.amount
    assert any(by_id[p].amount == a for p, a in refunded.items())
    assert any(by_id[p].amount > a for p, a in refunded.items())
    assert refunded[seed.FULLY_REFUNDED_PAYMENT_ID] == by_id[seed.FULLY_REFUNDED_PAYMENT_ID].amount


def test_every_seed_timestamp_is_in_2026_jan_to_oct() -> None:
    stamps = [b.created_at for b in seed.BUSINESSES]
    stamps += [c.created_at for c in seed.CUSTOMERS]
    stamps += [s for i in seed.INVOICES for s in (i.created_at, i.updated_at)]
    stamps += [p.created_at for p in seed.PAYMENTS] + [r.created_at for r in seed.REFUNDS]
    assert all(re.fullmatch(r"2026-\d\d-\d\dT\d\d:\d\d:\d\dZ", s) for s in stamps)
    assert min(stamps) >= seed.SEED_EARLIEST
    assert max(stamps) <= seed.SEED_LATEST


def test_the_seed_is_deterministic() -> None:
    assert build() == build()


def test_amounts_above_2_pow_31_and_other_currencies() -> None:
    large = next(i for i in seed.INVOICES if i.id == seed.IN_LARGE_INVOICE_ID)
    assert (large.currency, large.total) == ("INR", 3_000_000_000)
    assert large.total > 2**31
    jpy = next(i for i in seed.INVOICES if i.id == seed.JPY_INVOICE_ID)
    assert jpy.currency == "JPY"


def test_handy_ids_are_what_their_names_say() -> None:
    for business_id, invoice_id in seed.OPEN_INVOICE_IDS.items():
        invoice = expected.invoice(invoice_id)
        assert invoice["business_id"] == business_id
        assert invoice["status"] == "open"
        assert invoice["amount_paid"] == 0
        assert invoice["amount_due"] > 0
    assert expected.invoice(seed.GB_DRAFT_INVOICE_ID)["status"] == "draft"
    assert expected.invoice(seed.GB_PAID_INVOICE_ID)["status"] == "paid"
    assert expected.invoice(seed.GB_VOID_INVOICE_ID)["status"] == "void"
    partly = expected.invoice(seed.GB_PARTLY_PAID_INVOICE_ID)
    assert 0 < partly["amount_paid"] < partly["total"]
    assert expected.payment(seed.SUCCEEDED_PAYMENT_ID)["status"] == "succeeded"
    assert expected.payment(seed.SUCCEEDED_PAYMENT_ID)["amount_refunded"] == 0
    assert expected.payment(seed.FAILED_PAYMENT_ID)["failure_code"] == "card_declined"
    assert expected.payment(seed.PENDING_PAYMENT_ID)["status"] == "pending"
    assert expected.payment(seed.UPI_PAYMENT_ID)["payment_method"]["type"] == "upi"
    assert expected.customer(seed.CUSTOMER_WITHOUT_CONTACT_ID)["email"] is None
    for customer_id, business_id in [
        (seed.GB_CUSTOMER_ID, seed.GB_BUSINESS_ID),
        (seed.IN_CUSTOMER_ID, seed.IN_BUSINESS_ID),
        (seed.KWD_CUSTOMER_ID, seed.KWD_BUSINESS_ID),
    ]:
        assert expected.customer(customer_id)["business_id"] == business_id
