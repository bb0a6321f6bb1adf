"""Variants: the choices the contracts leave open, made the other way.

The gateway must work against any implementation of the contracts, not only against this
sandbox's habits. Each switch is independent, and every answer stays contract-valid:

- `batch_order`: batch reads (`ids`, `invoice_ids`, `payment_ids`, `business_ids`) answer
  in "reversed" or "shuffled" order instead of request order (newest first for the
  by-invoice and by-payment batches); a balance lists its currencies in that order too.
- `omit_nulls`: optional fields are left out instead of sent as null (Business.vat_number,
  Customer.phone, Payment.failure_code, PaymentMethod brand/last4/upi_vpa, Refund.reason,
  the error envelope's param), and so is an empty Invoice.payment_ids.
- `offset_timestamps`: `2026-01-02T09:00:00.000000+00:00` instead of `2026-01-02T09:00:00Z`.
- `short_pages`: a full listing page loses its last item and says has_more; the next page
  (starting_after the last item returned) starts with it, so nothing is skipped.
- `extra_fields`: fields the contract does not name, on every JSON object.

Variants reshape the answer on its way out; what is stored (data, idempotent replays)
is unchanged, so switching a variant off restores the usual answers at once.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from starlette.datastructures import QueryParams

from sandbox.common.errors import encode_json
from sandbox.common.listing import DEFAULT_LIMIT
from sandbox.common.validation import StrictBody

BatchOrder = Literal["request", "reversed", "shuffled"]
BATCH_SELECTORS = ("ids", "invoice_ids", "payment_ids", "business_ids")
# The contract's optional (not `required`) fields per object type.
OPTIONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "business": ("vat_number",),
    "customer": ("phone",),
    "invoice": ("payment_ids",),
    "payment": ("failure_code",),
    "refund": ("reason",),
}
OPTIONAL_METHOD_FIELDS = ("brand", "last4", "upi_vpa")
TIMESTAMP_FIELDS = ("created_at", "updated_at")
# Plausible fields of a newer service version: a flag, a nested object and a null.
EXTRA_FIELDS: dict[str, Any] = {
    "livemode": False,
    "metadata": {"sandbox_variant": "extra_fields"},
    "x_unreleased": None,
}


@dataclass(frozen=True)
class Variant:
    batch_order: BatchOrder = "request"
    omit_nulls: bool = False
    offset_timestamps: bool = False
    short_pages: bool = False
    extra_fields: bool = False

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class VariantBody(StrictBody):
    """PUT /_sandbox/variant; omitted fields take their defaults (the usual answers)."""

    batch_order: BatchOrder = "request"
    omit_nulls: bool = False
    offset_timestamps: bool = False
    short_pages: bool = False
    extra_fields: bool = False

    def to_variant(self) -> Variant:
        return Variant(**self.model_dump())


class VariantSwitch:
    """The variant in force; the one given at construction is what a reset restores."""

    def __init__(self, baseline: Variant | None) -> None:
        self.baseline = baseline or Variant()
        self.current = self.baseline

    def set(self, variant: Variant) -> None:
        self.current = variant

    def reset(self) -> None:
        self.current = self.baseline


def reshape(variant: Variant, method: str, query: QueryParams, status: int, body: bytes) -> bytes:
    """The answer `body` as this variant would send it."""
    if variant == Variant():
        return body  # the usual answer, byte for byte
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    if method == "GET" and status == 200 and _is_list(payload):
        selector = next((name for name in BATCH_SELECTORS if name in query), None)
        if selector is not None and variant.batch_order != "request":
            payload["data"] = _reordered(payload["data"], variant.batch_order, str(query))
        elif "business_id" in query and variant.short_pages:
            _shorten(payload, int(query.get("limit") or DEFAULT_LIMIT))
    return encode_json(_walk(payload, variant, str(query)))


def _is_list(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("object") == "list"


def _permutation(size: int, order: BatchOrder, seed: str) -> list[int]:
    positions = list(range(size))
    if order == "reversed":
        return positions[::-1]
    # Seeded by the request, so one request always gets the same order (replayable
    # tests), and never request order itself, which would hide an order dependency.
    digest = hashlib.sha256(seed.encode()).digest()
    random.Random(digest).shuffle(positions)  # noqa: S311 - an order, not a secret
    if size > 1 and positions == sorted(positions):
        positions = positions[1:] + positions[:1]
    return positions


def _reordered(items: list[Any], order: BatchOrder, seed: str) -> list[Any]:
    return [items[i] for i in _permutation(len(items), order, seed)]


def _shorten(page: dict[str, Any], limit: int) -> None:
    # Only a full page: a shorter one is the last, and an empty page with has_more would
    # leave the caller without a cursor.
    if limit > 1 and len(page["data"]) == limit:
        page["data"] = page["data"][:-1]
        page["has_more"] = True


def _offset(stamp: str) -> str:
    moment = datetime.fromisoformat(stamp)
    return moment.isoformat(timespec="microseconds")


def _walk(node: Any, variant: Variant, seed: str) -> Any:
    """Reshape every object inside `node`, innermost first."""
    if isinstance(node, list):
        return [_walk(item, variant, seed) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _walk(value, variant, seed) for key, value in node.items()}
    kind = node.get("object")
    if kind == "balance" and variant.batch_order != "request":
        # available and pending are parallel (one entry per currency): same order for both
        order = _permutation(len(node["available"]), variant.batch_order, seed)
        for side in ("available", "pending"):
            if len(node[side]) == len(order):
                node[side] = [node[side][i] for i in order]
    if variant.omit_nulls:
        node = _without_nulls(node, kind)
    if variant.offset_timestamps:
        for name in TIMESTAMP_FIELDS:
            if isinstance(node.get(name), str):
                node[name] = _offset(node[name])
    if variant.extra_fields:
        node = {**node, **{k: v for k, v in EXTRA_FIELDS.items() if k not in node}}
    return node


def _without_nulls(node: dict[str, Any], kind: Any) -> dict[str, Any]:
    optional = OPTIONAL_FIELDS.get(kind, ()) if isinstance(kind, str) else ()
    dropped = {name for name in optional if node.get(name) is None}
    if kind == "invoice" and node.get("payment_ids") == []:
        dropped.add("payment_ids")
    method = node.get("payment_method")
    if kind == "payment" and isinstance(method, dict):
        node["payment_method"] = {
            k: v for k, v in method.items() if not (k in OPTIONAL_METHOD_FIELDS and v is None)
        }
    error = node.get("error")
    if isinstance(error, dict) and error.get("param", "") is None:
        node["error"] = {k: v for k, v in error.items() if k != "param"}
    return {k: v for k, v in node.items() if k not in dropped}
