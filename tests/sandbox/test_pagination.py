"""Cursor pagination: whole listings walked page by page, no duplicates, no gaps."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.seed import (
    CUSTOMERS,
    GB_BUSINESS_ID,
    IN_BUSINESS_ID,
    INVOICES,
    KWD_BUSINESS_ID,
    PAYMENTS,
)
from tests.sandbox.helpers import invoice_body, write_headers


async def walk(
    client: httpx.AsyncClient, path: str, params: dict[str, Any]
) -> tuple[list[str], list[bool]]:
    ids: list[str] = []
    flags: list[bool] = []
    cursor: str | None = None
    while True:
        query = dict(params, **({"starting_after": cursor} if cursor else {}))
        body = (await client.get(path, params=query)).json()
        ids += [item["id"] for item in body["data"]]
        flags.append(body["has_more"])
        if not body["has_more"]:
            return ids, flags
        cursor = body["data"][-1]["id"]


def newest_first(items: list[Any]) -> list[str]:
    return [i.id for i in sorted(items, key=lambda i: (i.created_at, i.id), reverse=True)]


@pytest.mark.parametrize("business_id", [GB_BUSINESS_ID, IN_BUSINESS_ID, KWD_BUSINESS_ID])
@pytest.mark.parametrize("limit", [1, 7, 54, 100])
async def test_walk_every_invoice(
    invoicing: httpx.AsyncClient, business_id: str, limit: int
) -> None:
    ids, flags = await walk(invoicing, "/v1/invoices", {"business_id": business_id, "limit": limit})
    want = newest_first([i for i in INVOICES if i.business_id == business_id])
    assert ids == want
    assert len(set(ids)) == len(ids)
    pages = -(-len(want) // limit)
    # an exact multiple ends with a full page whose has_more is already false
    assert flags == [True] * (pages - 1) + [False]


async def test_walk_a_filtered_listing(invoicing: httpx.AsyncClient) -> None:
    ids, _ = await walk(
        invoicing, "/v1/invoices", {"business_id": GB_BUSINESS_ID, "status": "paid", "limit": 4}
    )
    assert ids == newest_first(
        [i for i in INVOICES if i.business_id == GB_BUSINESS_ID and i.status == "paid"]
    )


async def test_walk_customers(invoicing: httpx.AsyncClient) -> None:
    ids, flags = await walk(invoicing, "/v1/customers", {"business_id": IN_BUSINESS_ID, "limit": 2})
    assert ids == newest_first([c for c in CUSTOMERS if c.business_id == IN_BUSINESS_ID])
    assert flags == [True, True, False]


async def test_walk_payments(payments: httpx.AsyncClient) -> None:
    ids, _ = await walk(payments, "/v1/payments", {"business_id": KWD_BUSINESS_ID, "limit": 9})
    assert ids == newest_first([p for p in PAYMENTS if p.business_id == KWD_BUSINESS_ID])


async def test_a_cursor_keeps_its_place_when_newer_objects_arrive(
    invoicing: httpx.AsyncClient,
) -> None:
    # given a first page
    first = await invoicing.get("/v1/invoices", params={"business_id": GB_BUSINESS_ID, "limit": 5})
    cursor = first.json()["data"][-1]["id"]
    # when a new invoice is created before the next page is read
    await invoicing.post("/v1/invoices", json=invoice_body(), headers=write_headers())
    second = await invoicing.get(
        "/v1/invoices",
        params={"business_id": GB_BUSINESS_ID, "limit": 5, "starting_after": cursor},
    )
    # then the second page continues right after the cursor
    want = newest_first([i for i in INVOICES if i.business_id == GB_BUSINESS_ID])
    assert [i["id"] for i in second.json()["data"]] == want[5:10]


async def test_a_new_invoice_is_listed_first(invoicing: httpx.AsyncClient) -> None:
    created = await invoicing.post("/v1/invoices", json=invoice_body(), headers=write_headers())
    listed = await invoicing.get("/v1/invoices", params={"business_id": GB_BUSINESS_ID, "limit": 1})
    assert listed.json()["data"] == [created.json()]
