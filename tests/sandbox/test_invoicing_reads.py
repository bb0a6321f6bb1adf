"""GET endpoints of the invoicing contract: batch reads, listings, filters, 400s, 404s."""

from __future__ import annotations

import httpx
import pytest

from sandbox.seed import (
    CUSTOMER_WITHOUT_CONTACT_ID,
    CUSTOMERS,
    GB_BUSINESS_ID,
    GB_CUSTOMER_ID,
    GB_OPEN_INVOICE_ID,
    GB_PAID_INVOICE_ID,
    IN_BUSINESS_ID,
    IN_CUSTOMER_ID,
    IN_LARGE_INVOICE_ID,
    INVOICES,
    KWD_BUSINESS_ID,
)
from tests.sandbox import expected
from tests.sandbox.helpers import assert_error, invalid_request


async def test_businesses_batch_returns_known_ids_in_request_order(
    invoicing: httpx.AsyncClient,
) -> None:
    # when
    response = await invoicing.get(
        "/v1/businesses", params={"ids": f"{KWD_BUSINESS_ID},biz_unknown,{GB_BUSINESS_ID}"}
    )
    # then
    assert response.status_code == 200
    assert response.json() == {
        "object": "list",
        "data": [expected.business(KWD_BUSINESS_ID), expected.business(GB_BUSINESS_ID)],
        "has_more": False,
    }


async def test_a_duplicated_id_is_returned_once(invoicing: httpx.AsyncClient) -> None:
    response = await invoicing.get(
        "/v1/businesses", params={"ids": f"{IN_BUSINESS_ID},{IN_BUSINESS_ID}"}
    )
    assert response.json()["data"] == [expected.business(IN_BUSINESS_ID)]


async def test_a_batch_of_exactly_100_ids_is_accepted(invoicing: httpx.AsyncClient) -> None:
    ids = [GB_BUSINESS_ID, *(f"biz_x{n}" for n in range(99))]
    response = await invoicing.get("/v1/businesses", params={"ids": ",".join(ids)})
    assert response.json() == {
        "object": "list",
        "data": [expected.business(GB_BUSINESS_ID)],
        "has_more": False,
    }


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("", id="missing"),
        pytest.param("ids=", id="empty"),
        pytest.param("ids=biz_a,,biz_b", id="empty-item"),
        pytest.param("ids=" + ",".join(f"biz_{n}" for n in range(101)), id="101-ids"),
        pytest.param("ids=biz_a&ids=biz_b", id="repeated"),
    ],
)
async def test_businesses_ids_must_be_1_to_100(invoicing: httpx.AsyncClient, query: str) -> None:
    response = await invoicing.get(f"/v1/businesses?{query}")
    invalid_request(response, "ids")


async def test_customers_batch(invoicing: httpx.AsyncClient) -> None:
    response = await invoicing.get(
        "/v1/customers",
        params={"ids": f"{CUSTOMER_WITHOUT_CONTACT_ID},cus_nope,{IN_CUSTOMER_ID}"},
    )
    assert response.json() == {
        "object": "list",
        "data": [expected.customer(CUSTOMER_WITHOUT_CONTACT_ID), expected.customer(IN_CUSTOMER_ID)],
        "has_more": False,
    }
    assert response.json()["data"][0]["email"] is None
    assert response.json()["data"][0]["phone"] is None


async def test_customers_of_a_business_newest_first(invoicing: httpx.AsyncClient) -> None:
    response = await invoicing.get("/v1/customers", params={"business_id": GB_BUSINESS_ID})
    mine = [c for c in CUSTOMERS if c.business_id == GB_BUSINESS_ID]
    newest = sorted(mine, key=lambda c: (c.created_at, c.id), reverse=True)
    assert response.json() == {
        "object": "list",
        "data": [expected.customer(c.id) for c in newest],
        "has_more": False,
    }


async def test_an_unknown_business_lists_nothing(invoicing: httpx.AsyncClient) -> None:
    for path in ("/v1/customers", "/v1/invoices"):
        response = await invoicing.get(path, params={"business_id": "biz_nobody"})
        assert response.json() == {"object": "list", "data": [], "has_more": False}


@pytest.mark.parametrize("path", ["/v1/customers", "/v1/invoices"])
@pytest.mark.parametrize(
    ("query", "param"),
    [
        pytest.param("", "ids", id="neither"),
        pytest.param(
            f"ids={GB_CUSTOMER_ID}&business_id={GB_BUSINESS_ID}", "business_id", id="both"
        ),
        pytest.param("business_id=acme", "business_id", id="bad-business-id"),
        pytest.param("ids=", "ids", id="empty-ids"),
        pytest.param(f"ids={GB_CUSTOMER_ID}&limit=5", "limit", id="limit-with-ids"),
        pytest.param(
            f"ids={GB_CUSTOMER_ID}&starting_after={GB_CUSTOMER_ID}",
            "starting_after",
            id="cursor-with-ids",
        ),
        pytest.param(f"business_id={GB_BUSINESS_ID}&limit=0", "limit", id="limit-0"),
        pytest.param(f"business_id={GB_BUSINESS_ID}&limit=101", "limit", id="limit-101"),
        pytest.param(f"business_id={GB_BUSINESS_ID}&limit=abc", "limit", id="limit-text"),
        pytest.param(f"business_id={GB_BUSINESS_ID}&limit=2.0", "limit", id="limit-float"),
        pytest.param(f"business_id={GB_BUSINESS_ID}&limit=-1", "limit", id="limit-negative"),
        pytest.param(f"business_id={GB_BUSINESS_ID}&limit=", "limit", id="limit-empty"),
        pytest.param(
            f"business_id={GB_BUSINESS_ID}&starting_after=cus_unknown",
            "starting_after",
            id="unknown-cursor",
        ),
    ],
)
async def test_listing_parameter_rules(
    invoicing: httpx.AsyncClient, path: str, query: str, param: str
) -> None:
    response = await invoicing.get(f"{path}?{query}")
    invalid_request(response, param)


async def test_a_cursor_from_another_business_is_refused(invoicing: httpx.AsyncClient) -> None:
    response = await invoicing.get(
        "/v1/invoices",
        params={"business_id": IN_BUSINESS_ID, "starting_after": GB_OPEN_INVOICE_ID},
    )
    invalid_request(response, "starting_after")


async def test_get_one_invoice(invoicing: httpx.AsyncClient) -> None:
    response = await invoicing.get(f"/v1/invoices/{GB_PAID_INVOICE_ID}")
    assert response.status_code == 200
    assert response.json() == expected.invoice(GB_PAID_INVOICE_ID)


async def test_an_amount_above_2_pow_31_is_exact(invoicing: httpx.AsyncClient) -> None:
    response = await invoicing.get(f"/v1/invoices/{IN_LARGE_INVOICE_ID}")
    body = response.json()
    assert body == expected.invoice(IN_LARGE_INVOICE_ID)
    assert body["total"] == 3_000_000_000 > 2**31
    assert body["amount_due"] == 2_500_000_000


@pytest.mark.parametrize("invoice_id", ["inv_doesnotexist", "not-an-id", "inv_" + "a" * 33])
async def test_get_an_unknown_invoice_is_404(invoicing: httpx.AsyncClient, invoice_id: str) -> None:
    response = await invoicing.get(f"/v1/invoices/{invoice_id}")
    assert_error(response, 404, "not_found_error", "resource_missing", "invoice_id")


async def test_invoices_batch_ignores_unknown_ids(invoicing: httpx.AsyncClient) -> None:
    ids = [GB_PAID_INVOICE_ID, "inv_nope", IN_LARGE_INVOICE_ID]
    response = await invoicing.get("/v1/invoices", params={"ids": ",".join(ids)})
    assert response.json() == {
        "object": "list",
        "data": [expected.invoice(GB_PAID_INVOICE_ID), expected.invoice(IN_LARGE_INVOICE_ID)],
        "has_more": False,
    }


@pytest.mark.parametrize("status", ["draft", "open", "paid", "void"])
async def test_invoices_filtered_by_status(invoicing: httpx.AsyncClient, status: str) -> None:
    response = await invoicing.get(
        "/v1/invoices", params={"business_id": GB_BUSINESS_ID, "status": status, "limit": 100}
    )
    seeded = [i for i in INVOICES if i.business_id == GB_BUSINESS_ID and i.status == status]
    newest = sorted(seeded, key=lambda i: (i.created_at, i.id), reverse=True)
    assert response.json() == {
        "object": "list",
        "data": [expected.invoice(i.id) for i in newest],
        "has_more": False,
    }


async def test_invoices_filtered_by_customer_and_status(invoicing: httpx.AsyncClient) -> None:
    response = await invoicing.get(
        "/v1/invoices",
        params={
            "business_id": GB_BUSINESS_ID,
            "customer_id": GB_CUSTOMER_ID,
            "status": "paid",
            "limit": 100,
        },
    )
    want = [
        i.id
        for i in sorted(INVOICES, key=lambda i: (i.created_at, i.id), reverse=True)
        if i.customer_id == GB_CUSTOMER_ID and i.status == "paid"
    ]
    assert want
    assert [i["id"] for i in response.json()["data"]] == want


async def test_default_page_size_is_20(invoicing: httpx.AsyncClient) -> None:
    response = await invoicing.get("/v1/invoices", params={"business_id": GB_BUSINESS_ID})
    assert len(response.json()["data"]) == 20
    assert response.json()["has_more"] is True


@pytest.mark.parametrize(
    ("query", "param"),
    [
        (f"business_id={GB_BUSINESS_ID}&status=overdue", "status"),
        (f"business_id={GB_BUSINESS_ID}&customer_id=bob", "customer_id"),
        (f"ids={GB_PAID_INVOICE_ID}&status=paid", "status"),
        (f"ids={GB_PAID_INVOICE_ID}&customer_id={GB_CUSTOMER_ID}", "customer_id"),
    ],
)
async def test_invoice_filter_rules(invoicing: httpx.AsyncClient, query: str, param: str) -> None:
    response = await invoicing.get(f"/v1/invoices?{query}")
    invalid_request(response, param)
