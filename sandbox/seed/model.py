"""The shape of the seed data both services load."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.common.money import invoice_totals


@dataclass(frozen=True)
class SeedBusiness:
    id: str
    name: str
    country: str
    default_currency: str
    vat_number: str | None
    created_at: str


@dataclass(frozen=True)
class SeedCustomer:
    id: str
    business_id: str
    name: str
    email: str | None
    phone: str | None
    created_at: str


@dataclass(frozen=True)
class SeedLine:
    description: str
    quantity: int
    unit_amount: int


@dataclass(frozen=True)
class SeedInvoice:
    id: str
    business_id: str
    customer_id: str
    number: str
    status: str
    currency: str
    lines: tuple[SeedLine, ...]
    tax_rate_bps: int
    due_date: str
    created_at: str
    updated_at: str
    payment_ids: tuple[str, ...]
    amount_paid: int

    @property
    def total(self) -> int:
        return invoice_totals(
            [(line.quantity, line.unit_amount) for line in self.lines], self.tax_rate_bps
        ).total

    @property
    def amount_due(self) -> int:
        return self.total - self.amount_paid


@dataclass(frozen=True)
class SeedPayment:
    id: str
    business_id: str
    invoice_id: str
    amount: int
    currency: str
    status: str
    payment_method: str  # one of the contract's test payment methods
    amount_refunded: int
    created_at: str


@dataclass(frozen=True)
class SeedRefund:
    id: str
    business_id: str
    payment_id: str
    amount: int
    currency: str
    reason: str | None
    created_at: str
