"""Deterministic seed data shared by both sandbox services, plus handy ids for tests.

The payments seed references the invoicing seed's businesses and invoices; every
succeeded payment is recorded on its invoice (payment_ids, amount_paid) and no failed or
pending payment is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from sandbox.seed.data import INVOICES_PER_BUSINESS, LARGE_INVOICE_TOTAL, build
from sandbox.seed.model import (
    SeedBusiness,
    SeedCustomer,
    SeedInvoice,
    SeedLine,
    SeedPayment,
    SeedRefund,
)

_DATA = build()
_KINDS = _DATA.kinds

BUSINESSES: Final[tuple[SeedBusiness, ...]] = tuple(_DATA.businesses)
CUSTOMERS: Final[tuple[SeedCustomer, ...]] = tuple(_DATA.customers)
INVOICES: Final[tuple[SeedInvoice, ...]] = tuple(_DATA.invoices)
PAYMENTS: Final[tuple[SeedPayment, ...]] = tuple(_DATA.payments)
REFUNDS: Final[tuple[SeedRefund, ...]] = tuple(_DATA.refunds)

SEED_EARLIEST: Final = "2026-01-01T00:00:00Z"
SEED_LATEST: Final = "2026-10-31T23:59:59Z"

GB_BUSINESS_ID: Final = "biz_GBdemo"  # GB, GBP, with a VAT number
IN_BUSINESS_ID: Final = "biz_INdemo"  # IN, INR, with a GSTIN
KWD_BUSINESS_ID: Final = "biz_KWdemo"  # GB-registered, KWD (3 decimals), no VAT number
DEMO_BUSINESS_IDS: Final[tuple[str, ...]] = (GB_BUSINESS_ID, IN_BUSINESS_ID, KWD_BUSINESS_ID)


def _invoice(business_id: str, kind: str, *, default_currency: bool = True) -> SeedInvoice:
    default = next(b.default_currency for b in BUSINESSES if b.id == business_id)
    return next(
        inv
        for inv in INVOICES
        if inv.business_id == business_id
        and _KINDS[inv.id] == kind
        and (inv.currency == default) == default_currency
        and inv.total != LARGE_INVOICE_TOTAL
    )


def _payment(predicate: Callable[[SeedPayment], bool]) -> SeedPayment:
    return next(p for p in PAYMENTS if predicate(p))


# Open, nothing paid, due in 2027, in the business's default currency.
OPEN_INVOICE_IDS: Final[Mapping[str, str]] = MappingProxyType(
    {biz: _invoice(biz, "open").id for biz in DEMO_BUSINESS_IDS}
)
GB_OPEN_INVOICE_ID: Final = OPEN_INVOICE_IDS[GB_BUSINESS_ID]
IN_OPEN_INVOICE_ID: Final = OPEN_INVOICE_IDS[IN_BUSINESS_ID]
KWD_OPEN_INVOICE_ID: Final = OPEN_INVOICE_IDS[KWD_BUSINESS_ID]
GB_OVERDUE_INVOICE_ID: Final = _invoice(GB_BUSINESS_ID, "overdue").id
GB_PARTLY_PAID_INVOICE_ID: Final = _invoice(GB_BUSINESS_ID, "partly").id
GB_DRAFT_INVOICE_ID: Final = _invoice(GB_BUSINESS_ID, "draft").id
GB_PAID_INVOICE_ID: Final = _invoice(GB_BUSINESS_ID, "paid").id
GB_VOID_INVOICE_ID: Final = _invoice(GB_BUSINESS_ID, "void").id
# Open and partly paid, total INR 30,000,000.00 = 3,000,000,000 paise (> 2**31).
IN_LARGE_INVOICE_ID: Final = next(i.id for i in INVOICES if i.total == LARGE_INVOICE_TOTAL)
JPY_INVOICE_ID: Final = next(i.id for i in INVOICES if i.currency == "JPY")

GB_CUSTOMER_ID: Final = "cus_GB0001"
IN_CUSTOMER_ID: Final = "cus_IN0001"
KWD_CUSTOMER_ID: Final = "cus_KW0001"
CUSTOMER_WITHOUT_CONTACT_ID: Final = "cus_GB0005"  # no email, no phone

_REFUNDED = {r.payment_id for r in REFUNDS}
# Succeeded card payment (GBP), nothing refunded yet: fully refundable.
SUCCEEDED_PAYMENT_ID: Final = _payment(
    lambda p: (
        p.business_id == GB_BUSINESS_ID
        and p.currency == "GBP"
        and p.status == "succeeded"
        and p.id not in _REFUNDED
    )
).id
UPI_PAYMENT_ID: Final = _payment(
    lambda p: p.payment_method == "pm_upi_ok" and p.id not in _REFUNDED
).id
FAILED_PAYMENT_ID: Final = _payment(
    lambda p: p.business_id == GB_BUSINESS_ID and p.payment_method == "pm_card_declined"
).id
PENDING_PAYMENT_ID: Final = _payment(
    lambda p: p.business_id == GB_BUSINESS_ID and p.status == "pending"
).id
FULLY_REFUNDED_PAYMENT_ID: Final = _payment(
    lambda p: p.amount_refunded == p.amount and p.business_id == GB_BUSINESS_ID
).id
PARTIALLY_REFUNDED_PAYMENT_ID: Final = _payment(
    lambda p: 0 < p.amount_refunded < p.amount and p.business_id == GB_BUSINESS_ID
).id
PARTIAL_REFUND_ID: Final = next(
    r.id for r in REFUNDS if r.payment_id == PARTIALLY_REFUNDED_PAYMENT_ID
)

__all__ = [
    "BUSINESSES",
    "CUSTOMERS",
    "CUSTOMER_WITHOUT_CONTACT_ID",
    "DEMO_BUSINESS_IDS",
    "FAILED_PAYMENT_ID",
    "FULLY_REFUNDED_PAYMENT_ID",
    "GB_BUSINESS_ID",
    "GB_CUSTOMER_ID",
    "GB_DRAFT_INVOICE_ID",
    "GB_OPEN_INVOICE_ID",
    "GB_OVERDUE_INVOICE_ID",
    "GB_PAID_INVOICE_ID",
    "GB_PARTLY_PAID_INVOICE_ID",
    "GB_VOID_INVOICE_ID",
    "INVOICES",
    "INVOICES_PER_BUSINESS",
    "IN_BUSINESS_ID",
    "IN_CUSTOMER_ID",
    "IN_LARGE_INVOICE_ID",
    "IN_OPEN_INVOICE_ID",
    "JPY_INVOICE_ID",
    "KWD_BUSINESS_ID",
    "KWD_CUSTOMER_ID",
    "KWD_OPEN_INVOICE_ID",
    "LARGE_INVOICE_TOTAL",
    "OPEN_INVOICE_IDS",
    "PARTIALLY_REFUNDED_PAYMENT_ID",
    "PARTIAL_REFUND_ID",
    "PAYMENTS",
    "PENDING_PAYMENT_ID",
    "REFUNDS",
    "SEED_EARLIEST",
    "SEED_LATEST",
    "SUCCEEDED_PAYMENT_ID",
    "UPI_PAYMENT_ID",
    "SeedBusiness",
    "SeedCustomer",
    "SeedInvoice",
    "SeedLine",
    "SeedPayment",
    "SeedRefund",
]
