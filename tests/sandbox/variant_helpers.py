"""Shared by the variant tests: the reads they check and independent statements of what
each variant should send."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

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


OFFSET_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00")


def as_z(obj: dict[str, Any]) -> dict[str, Any]:
    changed = dict(obj)
    for name in ("created_at", "updated_at"):
        if name in obj:
            assert OFFSET_STAMP.fullmatch(obj[name]), obj[name]
            changed[name] = datetime.fromisoformat(obj[name]).strftime("%Y-%m-%dT%H:%M:%SZ")
    return changed


def without_extras(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` less the variant's extra fields, which it must have."""
    if obj == EXTRA_METADATA:
        return obj  # the extra `metadata` object is the one without extras of its own
    assert set(obj) >= EXTRA_KEYS, obj
    return {k: v for k, v in obj.items() if k not in EXTRA_KEYS}
