"""Variants: the sandboxes make the other choice wherever the contracts leave one open,
and every answer is still contract-valid (the clients check each response)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from sandbox.common.variants import Variant
from sandbox.seed import (
    CUSTOMER_WITHOUT_CONTACT_ID,
    FAILED_PAYMENT_ID,
    FULLY_REFUNDED_PAYMENT_ID,
    GB_BUSINESS_ID,
    GB_CUSTOMER_ID,
    GB_DRAFT_INVOICE_ID,
    GB_OPEN_INVOICE_ID,
    GB_PAID_INVOICE_ID,
    IN_BUSINESS_ID,
    IN_CUSTOMER_ID,
    IN_LARGE_INVOICE_ID,
    KWD_BUSINESS_ID,
    PARTIALLY_REFUNDED_PAYMENT_ID,
    PENDING_PAYMENT_ID,
    REFUNDS,
    SUCCEEDED_PAYMENT_ID,
    UPI_PAYMENT_ID,
)
from tests.sandbox.conftest import Apps, contract_client
from tests.sandbox.helpers import invalid_request, payment_body, write_headers

DEFAULT = Variant().as_json()
ALL_ON: dict[str, Any] = {
    "batch_order": "shuffled",
    "omit_nulls": True,
    "offset_timestamps": True,
    "short_pages": True,
    "extra_fields": True,
}
EXTRA_KEYS = {"livemode", "metadata", "x_unreleased"}
EXTRA_METADATA = {"sandbox_variant": "extra_fields"}


def ids(*values: str) -> str:
    return ",".join(values)


BATCHES = [
    ("invoicing", f"/v1/businesses?ids={ids(KWD_BUSINESS_ID, GB_BUSINESS_ID, IN_BUSINESS_ID)}"),
    (
        "invoicing",
        f"/v1/customers?ids={ids(CUSTOMER_WITHOUT_CONTACT_ID, GB_CUSTOMER_ID, IN_CUSTOMER_ID)}",
    ),
    (
        "invoicing",
        "/v1/invoices?ids="
        + ids(GB_PAID_INVOICE_ID, GB_OPEN_INVOICE_ID, IN_LARGE_INVOICE_ID, GB_DRAFT_INVOICE_ID),
    ),
    (
        "payments",
        "/v1/payments?ids="
        + ids(PENDING_PAYMENT_ID, SUCCEEDED_PAYMENT_ID, FAILED_PAYMENT_ID, UPI_PAYMENT_ID),
    ),
    (
        "payments",
        "/v1/payments?invoice_ids="
        + ids(GB_PAID_INVOICE_ID, IN_LARGE_INVOICE_ID, GB_OPEN_INVOICE_ID),
    ),
    ("payments", f"/v1/refunds?ids={ids(*(r.id for r in REFUNDS[:4]))}"),
    (
        "payments",
        f"/v1/refunds?payment_ids={ids(PARTIALLY_REFUNDED_PAYMENT_ID, FULLY_REFUNDED_PAYMENT_ID)}",
    ),
    (
        "payments",
        f"/v1/balances?business_ids={ids(KWD_BUSINESS_ID, GB_BUSINESS_ID, IN_BUSINESS_ID)}",
    ),
]
LISTINGS = [
    ("invoicing", f"/v1/invoices?business_id={GB_BUSINESS_ID}&limit=10"),
    ("invoicing", f"/v1/invoices?business_id={GB_BUSINESS_ID}&status=open&limit=5"),
    ("invoicing", f"/v1/customers?business_id={GB_BUSINESS_ID}&limit=4"),
    ("payments", f"/v1/payments?business_id={IN_BUSINESS_ID}&limit=10"),
]
SINGLES = [
    ("invoicing", f"/v1/invoices/{GB_PAID_INVOICE_ID}"),
    ("invoicing", f"/v1/invoices/{GB_DRAFT_INVOICE_ID}"),
    ("payments", f"/v1/payments/{UPI_PAYMENT_ID}"),
    ("payments", f"/v1/payments/{PENDING_PAYMENT_ID}"),
]
READS = BATCHES + LISTINGS + SINGLES


def read_id(read: tuple[str, str]) -> str:
    return f"{read[0]}:{read[1].split('?')[0]}?{read[1].partition('?')[2][:24]}"


@pytest.fixture
def clients(
    invoicing: httpx.AsyncClient, payments: httpx.AsyncClient
) -> dict[str, httpx.AsyncClient]:
    return {"invoicing": invoicing, "payments": payments}


async def get_json(client: httpx.AsyncClient, path: str) -> Any:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


async def set_variant(client: httpx.AsyncClient, **variant: Any) -> None:
    response = await client.put("/_sandbox/variant", json=variant)
    assert response.status_code == 200, response.text


async def default_and_varied(client: httpx.AsyncClient, path: str, **variant: Any) -> Any:
    """The answer to GET `path` as usual, then in `variant`; the variant is undone after."""
    default = await get_json(client, path)
    await set_variant(client, **variant)
    varied = await get_json(client, path)
    await client.delete("/_sandbox/variant")
    return default, varied


def walk(node: Any, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """`node` with `change` applied to every object in it, innermost first."""
    if isinstance(node, list):
        return [walk(item, change) for item in node]
    if isinstance(node, dict):
        return change({key: walk(value, change) for key, value in node.items()})
    return node


def objects(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [found for item in node for found in objects(item)]
    if isinstance(node, dict):
        return [node, *(found for value in node.values() for found in objects(value))]
    return []


# -- the admin API -----------------------------------------------------------------------


async def test_put_get_and_delete_the_variant(payments: httpx.AsyncClient) -> None:
    assert (await payments.get("/_sandbox/variant")).json() == DEFAULT
    put = await payments.put("/_sandbox/variant", json={"omit_nulls": True})
    got = await payments.get("/_sandbox/variant")
    deleted = await payments.delete("/_sandbox/variant")
    assert (put.status_code, put.json()) == (200, {**DEFAULT, "omit_nulls": True})
    assert got.json() == {**DEFAULT, "omit_nulls": True}
    assert (deleted.status_code, deleted.json()) == (200, DEFAULT)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"batch_order": "sideways"}, "batch_order"),
        ({"omit_nulls": 1}, "omit_nulls"),
        ({"short_pages": "true"}, "short_pages"),
        ({"everything": True}, "everything"),
        ([], None),
    ],
)
async def test_variant_settings_are_validated(
    invoicing: httpx.AsyncClient, body: Any, param: str | None
) -> None:
    invalid_request(await invoicing.put("/_sandbox/variant", json=body), param)
    assert (await invoicing.get("/_sandbox/variant")).json() == DEFAULT


async def test_the_construction_variant_is_the_baseline_a_reset_restores(apps: Apps) -> None:
    # given an app built in a variant, then switched to another
    app = apps.invoicing(variant=Variant(extra_fields=True))
    async with contract_client(app, "invoicing", "http://invoicing.test") as client:
        assert "livemode" in await get_json(client, f"/v1/invoices/{GB_PAID_INVOICE_ID}")
        await set_variant(client, omit_nulls=True)
        # when reset, the baseline is back
        await client.post("/_sandbox/reset")
        assert (await client.get("/_sandbox/variant")).json() == {**DEFAULT, "extra_fields": True}
        await set_variant(client)
        # and a PUT of nothing is the usual answers, exactly
        plain = await get_json(client, f"/v1/invoices/{GB_PAID_INVOICE_ID}")
    assert "livemode" not in plain


# -- (a) batch order ---------------------------------------------------------------------


def reversed_balance(balance: dict[str, Any]) -> dict[str, Any]:
    return {**balance, "available": balance["available"][::-1], "pending": balance["pending"][::-1]}


@pytest.mark.parametrize("read", BATCHES, ids=read_id)
async def test_reversed_batches(
    clients: dict[str, httpx.AsyncClient], read: tuple[str, str]
) -> None:
    service, path = read
    default, varied = await default_and_varied(clients[service], path, batch_order="reversed")
    assert len(default["data"]) >= 2
    want = default["data"][::-1]
    if path.startswith("/v1/balances"):
        want = [reversed_balance(b) for b in want]
        assert any(len(b["available"]) >= 2 for b in want)
    assert varied == {**default, "data": want}


@pytest.mark.parametrize("read", BATCHES, ids=read_id)
async def test_shuffled_batches_are_the_same_objects_in_another_order(
    clients: dict[str, httpx.AsyncClient], read: tuple[str, str]
) -> None:
    service, path = read
    client = clients[service]
    default, varied = await default_and_varied(client, path, batch_order="shuffled")
    await set_variant(client, batch_order="shuffled")
    again = await get_json(client, path)

    def key(item: dict[str, Any]) -> str:
        return str(item.get("id") or item["business_id"])

    assert [key(item) for item in varied["data"]] != [key(item) for item in default["data"]]
    assert sorted(walk(varied["data"], sorted_money), key=key) == sorted(
        walk(default["data"], sorted_money), key=key
    )
    assert again == varied  # one request, one order: failures can be replayed


def sorted_money(obj: dict[str, Any]) -> dict[str, Any]:
    if obj.get("object") != "balance":
        return obj
    return {
        **obj,
        "available": sorted(obj["available"], key=lambda m: m["currency"]),
        "pending": sorted(obj["pending"], key=lambda m: m["currency"]),
    }


@pytest.mark.parametrize("read", LISTINGS + SINGLES, ids=read_id)
async def test_batch_order_leaves_listings_and_single_objects_alone(
    clients: dict[str, httpx.AsyncClient], read: tuple[str, str]
) -> None:
    service, path = read
    default, varied = await default_and_varied(clients[service], path, batch_order="reversed")
    assert varied == default


# -- (b) optional fields omitted ---------------------------------------------------------

OPTIONAL = {
    "business": {"vat_number"},
    "customer": {"phone"},
    "payment": {"failure_code"},
    "refund": {"reason"},
}


def without_nulls(obj: dict[str, Any]) -> dict[str, Any]:
    """What omit_nulls should send instead of `obj` (an independent statement of it)."""
    kind = obj.get("object")
    drop = {k for k in OPTIONAL.get(str(kind), set()) if obj[k] is None}
    if kind == "invoice" and obj["payment_ids"] == []:
        drop.add("payment_ids")
    if kind == "payment":
        method = obj["payment_method"]
        obj = {**obj, "payment_method": {k: v for k, v in method.items() if v is not None}}
    return {k: v for k, v in obj.items() if k not in drop}


@pytest.mark.parametrize("read", READS, ids=read_id)
async def test_omit_nulls_leaves_out_optional_nulls_only(
    clients: dict[str, httpx.AsyncClient], read: tuple[str, str]
) -> None:
    service, path = read
    default, varied = await default_and_varied(clients[service], path, omit_nulls=True)
    assert varied == walk(default, without_nulls)


async def test_omit_nulls_on_the_objects_that_have_them(
    invoicing: httpx.AsyncClient, payments: httpx.AsyncClient
) -> None:
    await set_variant(invoicing, omit_nulls=True)
    await set_variant(payments, omit_nulls=True)
    kwd = (await get_json(invoicing, f"/v1/businesses?ids={KWD_BUSINESS_ID}"))["data"][0]
    nobody = await get_json(invoicing, f"/v1/customers?ids={CUSTOMER_WITHOUT_CONTACT_ID}")
    unpaid = await get_json(invoicing, f"/v1/invoices/{GB_OPEN_INVOICE_ID}")
    paid = await get_json(invoicing, f"/v1/invoices/{GB_PAID_INVOICE_ID}")
    pending = await get_json(payments, f"/v1/payments/{PENDING_PAYMENT_ID}")
    card = await get_json(payments, f"/v1/payments/{SUCCEEDED_PAYMENT_ID}")
    upi = await get_json(payments, f"/v1/payments/{UPI_PAYMENT_ID}")
    refunds = await get_json(payments, f"/v1/refunds?ids={ids(*(r.id for r in REFUNDS))}")

    assert "vat_number" not in kwd
    customer = nobody["data"][0]
    assert "phone" not in customer
    assert customer["email"] is None  # required, so sent as null
    assert "payment_ids" not in unpaid
    assert paid["payment_ids"]
    assert "failure_code" not in pending
    assert pending["payment_method"] == {"type": "bank_transfer"}
    assert card["payment_method"] == {"type": "card", "brand": "visa", "last4": "4242"}
    assert upi["payment_method"] == {"type": "upi", "upi_vpa": "shop@okbank"}
    reasons = [r.get("reason", "omitted") for r in refunds["data"]]
    assert "omitted" in reasons
    assert None not in reasons


async def test_omit_nulls_leaves_a_null_error_param_out(payments: httpx.AsyncClient) -> None:
    await set_variant(payments, omit_nulls=True)
    refused = await payments.post(
        f"/v1/payments/{FAILED_PAYMENT_ID}/refunds", json={"amount": 1}, headers=write_headers("k")
    )
    unknown = await payments.get("/v1/payments/pay_unknown")
    assert refused.status_code == 409
    assert set(refused.json()["error"]) == {"type", "code", "message"}
    assert unknown.json()["error"]["param"] == "payment_id"


# -- (c) timestamps with an offset -------------------------------------------------------

OFFSET_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00")


def as_z(obj: dict[str, Any]) -> dict[str, Any]:
    changed = dict(obj)
    for name in ("created_at", "updated_at"):
        if name in obj:
            assert OFFSET_STAMP.fullmatch(obj[name]), obj[name]
            changed[name] = datetime.fromisoformat(obj[name]).strftime("%Y-%m-%dT%H:%M:%SZ")
    return changed


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


def without_extras(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` less the variant's extra fields, which it must have."""
    if obj == EXTRA_METADATA:
        return obj  # the extra `metadata` object is the one without extras of its own
    assert set(obj) >= EXTRA_KEYS, obj
    return {k: v for k, v in obj.items() if k not in EXTRA_KEYS}


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
