"""The domain event's envelope, version 1: CloudEvents 1.0 attributes in its JSON form,
with two extension attributes (`businessid`, `sequence`).

    {
      "specversion": "1.0",
      "id": "evt_6f1c...",                 unique; a consumer deduplicates by it
      "type": "payment.succeeded",         one of EventType
      "source": "/fintech-gateway",
      "time": "2026-12-03T13:45:00.123456Z",
      "subject": "pay_123",                the aggregate (invoice, payment, customer)
      "businessid": "biz_GB1",             whose it is: every reader is checked against it
      "sequence": 3,                       per subject, from 1, no gaps: order and dedupe
      "datacontenttype": "application/json",
      "dataschema": "urn:fintech-gateway:events:payment.succeeded:1",
      "data": {...}                        money as {"amount": "1250", "currency": "GBP"}:
    }                                      minor units as a decimal string, never a float

A consumer orders events of one subject by `sequence`, drops an `id` it has seen, and
can tell a gap (a missed event) from a duplicate. Parsing is strict: an envelope that is
not exactly this is `EventFormatError`, never a half-read event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

SPEC_VERSION = "1.0"
SOURCE = "/fintech-gateway"
# The topic exchange every gateway process publishes to and consumes from.
EXCHANGE = "fintech-gateway.events"
_ID = re.compile(r"evt_[0-9a-f]{32}")
_REF = re.compile(r"[A-Za-z0-9_\-]{1,64}")


def is_reference(value: str) -> bool:
    """A subject or business id an envelope may carry (and a routing key may hold)."""
    return _REF.fullmatch(value) is not None


class EventType(StrEnum):
    CUSTOMER_CREATED = "customer.created"
    INVOICE_CREATED = "invoice.created"
    INVOICE_FINALIZED = "invoice.finalized"
    INVOICE_PAID = "invoice.paid"
    INVOICE_VOIDED = "invoice.voided"
    PAYMENT_PENDING = "payment.pending"
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    REFUND_SUCCEEDED = "refund.succeeded"


class EventFormatError(ValueError):
    """Not a version-1 envelope."""


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: EventType
    time: datetime
    business_id: str
    subject: str
    sequence: int
    data: Mapping[str, Any]

    @property
    def routing_key(self) -> str:
        """`<business>.<type>`, e.g. `biz_GB1.payment.succeeded`: a consumer binds
        `biz_GB1.#` for one business or `*.payment.*` for one kind."""
        return f"{self.business_id}.{self.type.value}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "type": self.type.value,
            "source": SOURCE,
            "time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "subject": self.subject,
            "businessid": self.business_id,
            "sequence": self.sequence,
            "datacontenttype": "application/json",
            "dataschema": f"urn:fintech-gateway:events:{self.type.value}:1",
            "data": dict(self.data),
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True).encode()


def from_json(raw: bytes | str) -> Event:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise EventFormatError("not JSON") from exc
    if not isinstance(value, dict):
        raise EventFormatError("not an object")
    return from_dict(value)


def from_dict(value: Mapping[str, Any]) -> Event:
    expected = {
        "specversion",
        "id",
        "type",
        "source",
        "time",
        "subject",
        "businessid",
        "sequence",
        "datacontenttype",
        "dataschema",
        "data",
    }
    if set(value) != expected:
        raise EventFormatError("unexpected attributes")
    if value["specversion"] != SPEC_VERSION or value["source"] != SOURCE:
        raise EventFormatError("not a version-1 envelope of this source")
    try:
        kind = EventType(value["type"])
    except ValueError as exc:
        raise EventFormatError("unknown type") from exc
    event_id, subject, business = value["id"], value["subject"], value["businessid"]
    if not isinstance(event_id, str) or not _ID.fullmatch(event_id):
        raise EventFormatError("bad id")
    for ref in (subject, business):
        if not isinstance(ref, str) or not _REF.fullmatch(ref):
            raise EventFormatError("bad subject or business")
    sequence = value["sequence"]
    if type(sequence) is not int or sequence < 1:
        raise EventFormatError("bad sequence")
    if value["dataschema"] != f"urn:fintech-gateway:events:{kind.value}:1":
        raise EventFormatError("bad dataschema")
    if value["datacontenttype"] != "application/json" or not isinstance(value["data"], dict):
        raise EventFormatError("bad data")
    return Event(
        id=event_id,
        type=kind,
        time=_time(value["time"]),
        business_id=business,
        subject=subject,
        sequence=sequence,
        data=value["data"],
    )


def _time(raw: object) -> datetime:
    if not isinstance(raw, str) or not raw.endswith("Z"):
        raise EventFormatError("bad time")
    try:
        return datetime.fromisoformat(raw[:-1]).replace(tzinfo=UTC)
    except ValueError as exc:
        raise EventFormatError("bad time") from exc
