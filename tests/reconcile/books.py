"""Contract objects for the pure drift tests: invoices and payments built as a service
would send them (validated by the gateway's own models)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.downstream.models import Invoice, Payment

BUSINESS = "biz_GBdemo"
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
RECENTLY = "2026-12-03T11:00:00Z"


def invoice(
    invoice_id: str,
    total: int,
    *,
    paid: int = 0,
    payment_ids: list[str] | None = None,
    currency: str = "GBP",
    status: str = "open",
    business_id: str = BUSINESS,
) -> Invoice:
    """An invoice of one line; `payment_ids` None: the optional field left out."""
    body: dict[str, Any] = {
        "id": invoice_id,
        "object": "invoice",
        "business_id": business_id,
        "customer_id": "cus_GB0001",
        "number": "INV-000001",
        "status": status,
        "currency": currency,
        "lines": [{"description": "Work", "quantity": 1, "unit_amount": total, "amount": total}],
        "tax_rate_bps": 0,
        "subtotal": total,
        "tax": 0,
        "total": total,
        "amount_paid": paid,
        "amount_due": total - paid,
        "due_date": "2027-01-31",
        "created_at": "2026-11-01T09:00:00Z",
        "updated_at": "2026-11-01T09:00:00Z",
    }
    if payment_ids is not None:
        body["payment_ids"] = payment_ids
    return Invoice.model_validate(body)


def payment(
    payment_id: str,
    invoice_id: str,
    amount: int,
    *,
    status: str = "succeeded",
    refunded: int = 0,
    currency: str = "GBP",
    created_at: str = RECENTLY,
    business_id: str = BUSINESS,
) -> Payment:
    method = "bank_transfer" if status == "pending" else "card"
    return Payment.model_validate(
        {
            "id": payment_id,
            "object": "payment",
            "business_id": business_id,
            "invoice_id": invoice_id,
            "amount": amount,
            "currency": currency,
            "status": status,
            "failure_code": "card_declined" if status == "failed" else None,
            "amount_refunded": refunded,
            "payment_method": {"type": method},
            "created_at": created_at,
        }
    )
