"""Variants: the sandboxes make the other choice wherever the contracts leave one open,
and every answer is still contract-valid (the clients check each response). Here: the
switch itself, batch order and omitted optional fields."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.common.variants import Variant
from sandbox.seed import (
    CUSTOMER_WITHOUT_CONTACT_ID,
    FAILED_PAYMENT_ID,
    GB_OPEN_INVOICE_ID,
    GB_PAID_INVOICE_ID,
    KWD_BUSINESS_ID,
    PENDING_PAYMENT_ID,
    REFUNDS,
    SUCCEEDED_PAYMENT_ID,
    UPI_PAYMENT_ID,
)
from tests.sandbox.conftest import Apps, contract_client
from tests.sandbox.helpers import invalid_request, write_headers
from tests.sandbox.variant_helpers import (
    BATCHES,
    DEFAULT,
    LISTINGS,
    READS,
    SINGLES,
    default_and_varied,
    get_json,
    ids,
    read_id,
    set_variant,
    walk,
    without_nulls,
)

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
