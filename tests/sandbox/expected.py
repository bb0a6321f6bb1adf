"""Expected JSON of seed objects, computed independently of the sandbox's own code."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sandbox.seed import BUSINESSES, CUSTOMERS, INVOICES, PAYMENTS, REFUNDS

PAYMENT_METHODS: dict[str, dict[str, Any]] = {
    "pm_card_ok": {"type": "card", "brand": "visa", "last4": "4242", "upi_vpa": None},
    "pm_card_declined": {"type": "card", "brand": "visa", "last4": "0002", "upi_vpa": None},
    "pm_card_insufficient_funds": {
        "type": "card",
        "brand": "visa",
        "last4": "9995",
        "upi_vpa": None,
    },
    "pm_upi_ok": {"type": "upi", "brand": None, "last4": None, "upi_vpa": "shop@okbank"},
    "pm_bank_transfer": {"type": "bank_transfer", "brand": None, "last4": None, "upi_vpa": None},
}
FAILURE_CODES = {
    "pm_card_declined": "card_declined",
    "pm_card_insufficient_funds": "insufficient_funds",
}


def tax_of(subtotal: int, bps: int) -> int:
    """Half-to-even through Decimal: a different road to the same contract rule."""
    exact = Decimal(subtotal) * Decimal(bps) / Decimal(10_000)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def business(business_id: str) -> dict[str, Any]:
    b = next(b for b in BUSINESSES if b.id == business_id)
    return {
        "id": b.id,
        "object": "business",
        "name": b.name,
        "country": b.country,
        "default_currency": b.default_currency,
        "vat_number": b.vat_number,
        "created_at": b.created_at,
    }


def customer(customer_id: str) -> dict[str, Any]:
    c = next(c for c in CUSTOMERS if c.id == customer_id)
    return {
        "id": c.id,
        "object": "customer",
        "business_id": c.business_id,
        "name": c.name,
        "email": c.email,
        "phone": c.phone,
        "created_at": c.created_at,
    }


def invoice(invoice_id: str) -> dict[str, Any]:
    inv = next(i for i in INVOICES if i.id == invoice_id)
    lines = [
        {
            "description": ln.description,
            "quantity": ln.quantity,
            "unit_amount": ln.unit_amount,
            "amount": ln.quantity * ln.unit_amount,
        }
        for ln in inv.lines
    ]
    subtotal = sum(ln.quantity * ln.unit_amount for ln in inv.lines)
    tax = tax_of(subtotal, inv.tax_rate_bps)
    return {
        "id": inv.id,
        "object": "invoice",
        "business_id": inv.business_id,
        "customer_id": inv.customer_id,
        "number": inv.number,
        "status": inv.status,
        "currency": inv.currency,
        "lines": lines,
        "tax_rate_bps": inv.tax_rate_bps,
        "subtotal": subtotal,
        "tax": tax,
        "total": subtotal + tax,
        "amount_paid": inv.amount_paid,
        "amount_due": subtotal + tax - inv.amount_paid,
        "due_date": inv.due_date,
        "payment_ids": list(inv.payment_ids),
        "created_at": inv.created_at,
        "updated_at": inv.updated_at,
    }


def payment(payment_id: str) -> dict[str, Any]:
    p = next(p for p in PAYMENTS if p.id == payment_id)
    return {
        "id": p.id,
        "object": "payment",
        "business_id": p.business_id,
        "invoice_id": p.invoice_id,
        "amount": p.amount,
        "currency": p.currency,
        "status": p.status,
        "failure_code": FAILURE_CODES.get(p.payment_method),
        "amount_refunded": sum(r.amount for r in REFUNDS if r.payment_id == p.id),
        "payment_method": PAYMENT_METHODS[p.payment_method],
        "created_at": p.created_at,
    }


def refund(refund_id: str) -> dict[str, Any]:
    r = next(r for r in REFUNDS if r.id == refund_id)
    return {
        "id": r.id,
        "object": "refund",
        "business_id": r.business_id,
        "payment_id": r.payment_id,
        "amount": r.amount,
        "currency": r.currency,
        "status": "succeeded",
        "reason": r.reason,
        "created_at": r.created_at,
    }
