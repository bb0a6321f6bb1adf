"""Builds the deterministic seed: same input, same output, on every start.

No randomness: every varying value is plain arithmetic on the object's index, so the
invoicing and payments sandboxes (separate processes) build identical worlds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from sandbox.common.money import EXPONENTS, invoice_totals
from sandbox.common.store import format_ts
from sandbox.seed.model import (
    SeedBusiness,
    SeedCustomer,
    SeedInvoice,
    SeedLine,
    SeedPayment,
    SeedRefund,
)

INVOICES_PER_BUSINESS = 54
# Invoice "kinds" before shuffling; overdue and partly are open invoices.
_KIND_PLAN = (
    ("draft",) * 10
    + ("open",) * 8
    + ("overdue",) * 6
    + ("partly",) * 5
    + ("paid",) * 17
    + ("void",) * 8
)
_SHUFFLE = 19  # coprime with 54: i -> (19 * i) % 54 is a permutation spreading kinds in time
_STATUS_OF_KIND = {"overdue": "open", "partly": "open"}
_BASE = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
LARGE_INVOICE_TOTAL = 3_000_000_000  # INR 30,000,000.00, above 2**31 minor units
_LARGE_PART_PAID = 500_000_000


@dataclass(frozen=True)
class _Spec:
    tag: str
    business: SeedBusiness
    tax_bps: int
    foreign: tuple[str, str]  # the currencies of INV-000008 and INV-000024
    minute: int
    customers: tuple[tuple[str, str], ...]  # (name, phone)
    products: tuple[str, ...]


_SPECS = (
    _Spec(
        "GB",
        SeedBusiness(
            "biz_GBdemo",
            "Northwind Studio Ltd",
            "GB",
            "GBP",
            "GB123456789",
            "2026-01-01T08:00:00Z",
        ),
        2000,
        ("EUR", "USD"),
        5,
        (
            ("Brightwater Cafe", "+44 20 7946 0101"),
            ("Harbour & Finch LLP", "+44 20 7946 0102"),
            ("Oakridge Joinery", "+44 20 7946 0103"),
            ("Penrose Design", "+44 20 7946 0104"),
            ("Quayside Books", "+44 20 7946 0105"),
            ("Tamsin Ellery", "+44 20 7946 0106"),
        ),
        ("Brand workshop", "Website design", "Illustration set", "Hosting (monthly)"),
    ),
    _Spec(
        "IN",
        SeedBusiness(
            "biz_INdemo",
            "Chai Point Traders Pvt Ltd",
            "IN",
            "INR",
            "27AAPFU0939F1ZV",
            "2026-01-01T08:10:00Z",
        ),
        1800,
        ("JPY", "USD"),
        17,
        (
            ("Sharma Textiles", "+91 98200 11001"),
            ("Kaveri Foods Pvt Ltd", "+91 98200 11002"),
            ("Mehta & Sons", "+91 98200 11003"),
            ("Lotus Ayurveda", "+91 98200 11004"),
            ("Priya Nair", "+91 98200 11005"),
            ("Deccan Logistics", "+91 98200 11006"),
        ),
        ("Assam tea (case)", "Masala blend", "Export packing", "Freight"),
    ),
    _Spec(
        "KW",
        SeedBusiness(
            "biz_KWdemo", "Gulf Dhow Trading Ltd", "GB", "KWD", None, "2026-01-01T08:20:00Z"
        ),
        0,
        ("USD", "GBP"),
        29,
        (
            ("Al Noor Trading", "+965 2200 1001"),
            ("Gulf Marine Supplies", "+965 2200 1002"),
            ("Salmiya Electronics", "+965 2200 1003"),
            ("Fahad Al-Sabah", "+965 2200 1004"),
            ("Desert Rose Events", "+965 2200 1005"),
            ("Kuwait Steelworks", "+965 2200 1006"),
        ),
        ("Marine fittings", "Consulting day", "Shipping", "Warehouse (monthly)"),
    ),
)


@dataclass
class SeedData:
    businesses: list[SeedBusiness] = field(default_factory=list)
    customers: list[SeedCustomer] = field(default_factory=list)
    invoices: list[SeedInvoice] = field(default_factory=list)
    payments: list[SeedPayment] = field(default_factory=list)
    refunds: list[SeedRefund] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)  # invoice id -> kind


def _customers(spec: _Spec) -> list[SeedCustomer]:
    out = []
    for k, (name, phone) in enumerate(spec.customers):
        slug = "".join(ch for ch in name.lower() if ch.isalnum())[:20]
        out.append(
            SeedCustomer(
                id=f"cus_{spec.tag}{k + 1:04d}",
                business_id=spec.business.id,
                name=name,
                email=None if k == 4 else f"accounts@{slug}.example.com",
                phone=None if k in (3, 4) else phone,
                created_at=format_ts(_BASE - timedelta(hours=20 - k, minutes=spec.minute)),
            )
        )
    return out


def _lines(spec: _Spec, i: int, currency: str) -> tuple[SeedLine, ...]:
    exponent = EXPONENTS[currency]
    lines = []
    for j in range(1 + i % 3):
        major = 40 + (37 * i + 11 * j) % 460
        minor = (53 * i + 29 * j) % 10**exponent if exponent else 0
        unit = major * 10**exponent + minor if exponent else major * 100
        lines.append(
            SeedLine(spec.products[(i + j) % len(spec.products)], 1 + (i + 2 * j) % 4, unit)
        )
    return tuple(lines)


class _Builder:
    def __init__(self, spec: _Spec, data: SeedData) -> None:
        self.spec = spec
        self.data = data
        self.payment_seq = 0
        self.large_done = False

    def pay(
        self, invoice_id: str, amount: int, currency: str, status: str, method: str, at: datetime
    ) -> SeedPayment:
        self.payment_seq += 1
        payment = SeedPayment(
            f"pay_{self.spec.tag}{self.payment_seq:04d}",
            self.spec.business.id,
            invoice_id,
            amount,
            currency,
            status,
            method,
            0,
            format_ts(at),
        )
        self.data.payments.append(payment)
        return payment

    def invoice(self, i: int, customers: list[SeedCustomer]) -> None:
        spec = self.spec
        kind = _KIND_PLAN[(_SHUFFLE * i) % INVOICES_PER_BUSINESS]
        currency = {7: spec.foreign[0], 23: spec.foreign[1]}.get(i, spec.business.default_currency)
        created = _BASE + timedelta(
            days=5 * i, hours=(7 * i) % 9, minutes=spec.minute + 13 * i % 60
        )
        lines = _lines(spec, i, currency)
        tax_bps = 0 if i % 5 == 4 else spec.tax_bps
        large = kind == "partly" and spec.tag == "IN" and currency == "INR" and not self.large_done
        if large:
            self.large_done = True
            lines, tax_bps = (SeedLine("Annual distribution licence", 1, LARGE_INVOICE_TOTAL),), 0
        invoice_id = f"inv_{spec.tag}{i + 1:04d}"
        total = invoice_totals([(ln.quantity, ln.unit_amount) for ln in lines], tax_bps).total
        updated, due, succeeded = self._history(kind, i, invoice_id, total, currency, created)
        self.data.kinds[invoice_id] = kind
        self.data.invoices.append(
            SeedInvoice(
                id=invoice_id,
                business_id=spec.business.id,
                customer_id=customers[(5 * i) % len(customers)].id,
                number=f"INV-{i + 1:06d}",
                status=_STATUS_OF_KIND.get(kind, kind),
                currency=currency,
                lines=lines,
                tax_rate_bps=tax_bps,
                due_date=due.isoformat(),
                created_at=format_ts(created),
                updated_at=format_ts(updated),
                payment_ids=tuple(p.id for p in succeeded),
                amount_paid=sum(p.amount for p in succeeded),
            )
        )

    def _history(
        self, kind: str, i: int, invoice_id: str, total: int, currency: str, created: datetime
    ) -> tuple[datetime, date, list[SeedPayment]]:
        """The payments taken for one invoice: (updated_at, due_date, succeeded payments)."""
        large = total == LARGE_INVOICE_TOTAL
        card_failure = "pm_card_declined" if i % 2 == 0 else "pm_card_insufficient_funds"
        ok_method = "pm_upi_ok" if currency == "INR" and i % 2 == 1 else "pm_card_ok"
        succeeded: list[SeedPayment] = []
        finalized = created + timedelta(days=1)
        due = (created + timedelta(days=30)).date()
        if kind == "draft":
            return created, due, succeeded
        if kind == "void":
            return created + timedelta(days=2), due, succeeded
        if kind in ("open", "overdue"):
            # Not-yet-due invoices fall due in 2027; overdue ones a fortnight after issue.
            due = date(2027, 1, 4) + timedelta(days=i) if kind == "open" else due - timedelta(16)
            if i % 3 == 0:
                self.pay(invoice_id, total, currency, "failed", card_failure, finalized)
            elif i % 3 == 1:
                self.pay(invoice_id, total, currency, "pending", "pm_bank_transfer", finalized)
            return finalized, due, succeeded
        if kind == "partly":
            due = date(2027, 2, 1) + timedelta(days=i) if i % 2 == 0 else due - timedelta(9)
            part = _LARGE_PART_PAID if large else max(total // 3, 1)
            paid_at = created + timedelta(days=3)
            method = "pm_upi_ok" if large else ok_method
            succeeded.append(self.pay(invoice_id, part, currency, "succeeded", method, paid_at))
            if large:  # the rest is on its way by bank transfer: a pending balance > 2**31
                later = paid_at + timedelta(hours=2)
                self.pay(invoice_id, total - part, currency, "pending", "pm_bank_transfer", later)
            return paid_at, due, succeeded
        if i % 4 == 2:  # paid, after a first card attempt failed
            failed_at = created + timedelta(days=2)
            self.pay(invoice_id, total, currency, "failed", card_failure, failed_at)
        paid_at = created
        parts = [total // 2, total - total // 2] if i % 3 == 0 else [total]
        for n, part in enumerate(parts):
            paid_at = created + timedelta(days=3 + n)
            succeeded.append(self.pay(invoice_id, part, currency, "succeeded", ok_method, paid_at))
        return paid_at, due, succeeded

    def refunds(self) -> None:
        """Full, partial and twice-partial refunds of the first single-payment paid invoices."""
        paid = [
            inv
            for inv in self.data.invoices
            if inv.business_id == self.spec.business.id
            and inv.status == "paid"
            and len(inv.payment_ids) == 1
        ]
        plans: list[list[tuple[int, int, str | None]]] = [
            [(1, 1, "requested_by_customer")],
            [(1, 4, None)],
            [(1, 10, "duplicate"), (1, 5, None)],
        ]
        seq = 0
        for invoice, plan in zip(paid, plans, strict=False):
            index, payment = next(
                (n, p) for n, p in enumerate(self.data.payments) if p.id == invoice.payment_ids[0]
            )
            at = datetime.fromisoformat(payment.created_at)
            refunded = 0
            for step, (num, den, reason) in enumerate(plan):
                seq += 1
                amount = payment.amount * num // den
                refunded += amount
                self.data.refunds.append(
                    SeedRefund(
                        f"re_{self.spec.tag}{seq:04d}",
                        payment.business_id,
                        payment.id,
                        amount,
                        payment.currency,
                        reason,
                        format_ts(at + timedelta(days=5 + step)),
                    )
                )
            self.data.payments[index] = replace(payment, amount_refunded=refunded)


def build() -> SeedData:
    data = SeedData()
    for spec in _SPECS:
        data.businesses.append(spec.business)
        customers = _customers(spec)
        data.customers.extend(customers)
        builder = _Builder(spec, data)
        for i in range(INVOICES_PER_BUSINESS):
            builder.invoice(i, customers)
        builder.refunds()
    return data
