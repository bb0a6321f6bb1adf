"""Variants, continued: offset timestamps, short pages, unknown fields, and every
variant at once, writes and replays included (the clients check each response)."""

from __future__ import annotations

import httpx
import pytest

from sandbox.seed import (
    GB_BUSINESS_ID,
    GB_OPEN_INVOICE_ID,
    GB_PAID_INVOICE_ID,
)
from tests.sandbox.helpers import payment_body, write_headers
from tests.sandbox.variant_helpers import (
    ALL_ON,
    EXTRA_KEYS,
    LISTINGS,
    OFFSET_STAMP,
    READS,
    as_z,
    default_and_varied,
    get_json,
    ids,
    objects,
    read_id,
    set_variant,
    walk,
    without_extras,
    without_nulls,
)

# -- (c) timestamps with an offset -------------------------------------------------------


@pytest.mark.parametrize("read", READS, ids=read_id)
async def test_offset_timestamps_are_the_same_instants(
    clients: dict[str, httpx.AsyncClient], read: tuple[str, str]
) -> None:
    service, path = read
    default, varied = await default_and_varied(clients[service], path, offset_timestamps=True)
    # a balance has no timestamp; everything else has some
    assert (varied != default) == any("created_at" in obj for obj in objects(default))
    assert walk(varied, as_z) == default


# -- (d) short pages ---------------------------------------------------------------------


async def walk_pages(client: httpx.AsyncClient, path: str) -> tuple[list[str], list[int]]:
    """Every id of a listing, following starting_after; and the size of each page."""
    found: list[str] = []
    sizes: list[int] = []
    cursor = ""
    while True:
        page = await get_json(client, path + cursor)
        found += [item["id"] for item in page["data"]]
        sizes.append(len(page["data"]))
        if not page["has_more"]:
            return found, sizes
        cursor = f"&starting_after={found[-1]}"


@pytest.mark.parametrize("read", LISTINGS, ids=read_id)
async def test_a_full_page_loses_its_last_item_and_says_more_follow(
    clients: dict[str, httpx.AsyncClient], read: tuple[str, str]
) -> None:
    service, path = read
    default, varied = await default_and_varied(clients[service], path, short_pages=True)
    limit = int(path.rpartition("limit=")[2])
    assert len(default["data"]) == limit
    assert varied == {**default, "data": default["data"][:-1], "has_more": True}


@pytest.mark.parametrize("read", LISTINGS, ids=read_id)
async def test_walking_short_pages_finds_every_object_once_in_order(
    clients: dict[str, httpx.AsyncClient], read: tuple[str, str]
) -> None:
    service, path = read
    client = clients[service]
    limit = int(path.rpartition("limit=")[2])
    everything, _ = await walk_pages(client, path.replace(f"limit={limit}", "limit=100"))
    await set_variant(client, short_pages=True)
    walked, sizes = await walk_pages(client, path)
    assert walked == everything
    assert all(size == limit - 1 for size in sizes[:-1])
    assert sizes[-1] < limit


async def test_an_exactly_full_last_page_is_split_in_two(invoicing: httpx.AsyncClient) -> None:
    listing = f"/v1/customers?business_id={GB_BUSINESS_ID}&limit=100"
    count = len((await get_json(invoicing, listing))["data"])
    await set_variant(invoicing, short_pages=True)
    walked, sizes = await walk_pages(
        invoicing, f"/v1/customers?business_id={GB_BUSINESS_ID}&limit={count}"
    )
    assert sizes == [count - 1, 1]
    assert len(set(walked)) == count


async def test_pages_of_one_and_batches_are_never_shortened(
    invoicing: httpx.AsyncClient,
) -> None:
    single = f"/v1/invoices?business_id={GB_BUSINESS_ID}&limit=1"
    batch = f"/v1/invoices?ids={ids(GB_PAID_INVOICE_ID, GB_OPEN_INVOICE_ID)}"
    default_single, varied_single = await default_and_varied(invoicing, single, short_pages=True)
    default_batch, varied_batch = await default_and_varied(invoicing, batch, short_pages=True)
    assert varied_single == default_single
    assert len(varied_single["data"]) == 1
    assert varied_batch == default_batch


# -- (e) unknown fields ------------------------------------------------------------------


@pytest.mark.parametrize("read", READS, ids=read_id)
async def test_extra_fields_on_every_object(
    clients: dict[str, httpx.AsyncClient], read: tuple[str, str]
) -> None:
    service, path = read
    default, varied = await default_and_varied(clients[service], path, extra_fields=True)
    assert walk(varied, without_extras) == default


async def test_extra_fields_on_error_envelopes(invoicing: httpx.AsyncClient) -> None:
    await set_variant(invoicing, extra_fields=True)
    response = await invoicing.get("/v1/invoices/inv_unknown")
    body = response.json()
    assert response.status_code == 404
    assert set(body) >= EXTRA_KEYS
    assert set(body["error"]) >= EXTRA_KEYS


# -- every variant at once, writes included ----------------------------------------------


@pytest.mark.parametrize("read", READS, ids=read_id)
async def test_every_variant_at_once_is_contract_valid(
    clients: dict[str, httpx.AsyncClient], read: tuple[str, str]
) -> None:
    service, path = read
    await set_variant(clients[service], **ALL_ON)
    # the contract client has validated the answer; it is also really in the variant
    answer = await get_json(clients[service], path)
    assert all(set(obj) >= EXTRA_KEYS for obj in objects(answer) if "object" in obj)


async def test_write_answers_and_their_replays_are_in_the_variant(
    payments: httpx.AsyncClient,
) -> None:
    # given a charge answered as usual
    body = payment_body(payment_method="pm_bank_transfer")
    first = await payments.post("/v1/payments", json=body, headers=write_headers("k-1"))
    # when it is replayed in every variant, and another charge is made in them
    await set_variant(payments, **ALL_ON)
    replay = await payments.post("/v1/payments", json=body, headers=write_headers("k-1"))
    second = await payments.post("/v1/payments", json=body, headers=write_headers("k-2"))
    # then both answers are shaped by the variant, and the replay is the same payment
    assert replay.headers["Idempotent-Replayed"] == "true"
    for answer in (replay.json(), second.json()):
        assert "failure_code" not in answer
        assert answer["payment_method"]["type"] == "bank_transfer"
        assert OFFSET_STAMP.fullmatch(answer["created_at"])
        assert set(answer) >= EXTRA_KEYS
    assert walk(walk(replay.json(), without_extras), as_z) == walk(first.json(), without_nulls)
