"""Mutation inputs, validated before anything else happens.

Every parser here is pure: it either returns a frozen, fully checked value or raises
InvalidInput listing every problem of the input at once, so a client fixes a form in one
round trip and nothing half-checked ever reaches a downstream service or the database.
Messages name the field but never echo the value: it may be hostile or huge, and messages
end up in logs. Strings are carried exactly as sent (no stripping, no case folding): what
the client typed is what gets stored, and a silent repair could change meaning.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from app.core.money import to_major_string
from app.mutations.input_rules import (
    PAYMENT_METHOD,
    FieldProblem,
    InvalidInput,
    Path,
    add,
    check_currency,
    check_key,
    email_problem,
    parse_amount,
    phone_problem,
    raise_if_any,
    text_problem,
)

__all__ = [
    "CreateCustomer",
    "CreateInvoice",
    "FieldProblem",
    "FinalizeInvoice",
    "InvalidInput",
    "InvoiceLine",
    "Money",
    "PayInvoice",
    "RefundPayment",
    "VoidInvoice",
    "due_date_window",
    "parse_create_customer",
    "parse_create_invoice",
    "parse_finalize_invoice",
    "parse_pay_invoice",
    "parse_refund_payment",
    "parse_void_invoice",
]

MAX_QUANTITY: Final = 1_000_000
MAX_LINES: Final = 100
MAX_TAX_RATE_BPS: Final = 10_000
# Far above any real invoice; only there so absurd totals never reach integer columns.
MAX_INVOICE_TOTAL_MINOR: Final = 10**17
# A new invoice's due date lies in a window around today (the gateway's calendar date,
# UTC; both demo countries are at or ahead of UTC, so their local today is inside it):
# up to a month back, for an invoice entered after it was issued on paper, and up to two
# years ahead, longer than any payment term. A date outside is a typo (2062 for 2026) that
# would make the invoice overdue at once, or never. Constants, not settings: the settings
# names are fixed by the contracts, and the window is a rule of the product.
DUE_DATE_DAYS_BEFORE_TODAY: Final = 30
DUE_DATE_DAYS_AFTER_TODAY: Final = 730


def due_date_window(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The earliest and latest due date a new invoice may have, both included."""
    return (
        today - datetime.timedelta(days=DUE_DATE_DAYS_BEFORE_TODAY),
        today + datetime.timedelta(days=DUE_DATE_DAYS_AFTER_TODAY),
    )


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str

    def fingerprint_data(self) -> dict[str, object]:
        return {"minor": self.minor, "currency": self.currency}


@dataclass(frozen=True, slots=True)
class CreateCustomer:
    idempotency_key: str
    business_id: str
    name: str
    email: str | None
    phone: str | None

    def fingerprint_data(self) -> dict[str, object]:
        return {
            "business_id": self.business_id,
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
        }


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    description: str
    quantity: int
    unit_amount_minor: int


@dataclass(frozen=True, slots=True)
class CreateInvoice:
    idempotency_key: str
    business_id: str
    customer_id: str
    currency: str
    due_date: datetime.date
    tax_rate_bps: int
    lines: tuple[InvoiceLine, ...]

    def fingerprint_data(self) -> dict[str, object]:
        return {
            "business_id": self.business_id,
            "customer_id": self.customer_id,
            "currency": self.currency,
            "due_date": self.due_date.isoformat(),
            "tax_rate_bps": self.tax_rate_bps,
            "lines": [
                {
                    "description": line.description,
                    "quantity": line.quantity,
                    "unit_amount": Money(line.unit_amount_minor, self.currency).fingerprint_data(),
                }
                for line in self.lines
            ],
        }


@dataclass(frozen=True, slots=True)
class FinalizeInvoice:
    idempotency_key: str
    invoice_id: str

    def fingerprint_data(self) -> dict[str, object]:
        return {"invoice_id": self.invoice_id}


@dataclass(frozen=True, slots=True)
class VoidInvoice:
    idempotency_key: str
    invoice_id: str

    def fingerprint_data(self) -> dict[str, object]:
        return {"invoice_id": self.invoice_id}


@dataclass(frozen=True, slots=True)
class PayInvoice:
    idempotency_key: str
    invoice_id: str
    amount: Money | None
    payment_method: str

    def fingerprint_data(self) -> dict[str, object]:
        return {
            "invoice_id": self.invoice_id,
            "amount": None if self.amount is None else self.amount.fingerprint_data(),
            "payment_method": self.payment_method,
        }


@dataclass(frozen=True, slots=True)
class RefundPayment:
    idempotency_key: str
    payment_id: str
    amount: Money | None
    reason: str | None

    def fingerprint_data(self) -> dict[str, object]:
        return {
            "payment_id": self.payment_id,
            "amount": None if self.amount is None else self.amount.fingerprint_data(),
            "reason": self.reason,
        }


# --- parsers ----------------------------------------------------------------------------


def parse_create_customer(
    *,
    idempotency_key: str,
    business_id: str,
    name: str,
    email: str | None,
    phone: str | None,
) -> CreateCustomer:
    problems: list[FieldProblem] = []
    check_key(problems, idempotency_key)
    add(problems, ("input", "name"), text_problem("name", name, 200))
    if email is not None:
        add(problems, ("input", "email"), email_problem(email))
    if phone is not None:
        add(problems, ("input", "phone"), phone_problem(phone))
    raise_if_any(problems)
    return CreateCustomer(idempotency_key, business_id, name, email, phone)


def parse_create_invoice(
    *,
    idempotency_key: str,
    business_id: str,
    customer_id: str,
    currency: str,
    due_date: datetime.date,
    tax_rate_bps: int | None,
    lines: Sequence[tuple[str, int, str]],
    today: datetime.date,
) -> CreateInvoice:
    """`tax_rate_bps` None is an explicit GraphQL null, which means the schema default, 0.
    `today` is the app's calendar date (its clock), which the due date's window is around."""
    problems: list[FieldProblem] = []
    check_key(problems, idempotency_key)
    currency_ok = check_currency(problems, ("input", "currency"), currency)
    earliest, latest = due_date_window(today)
    if not earliest <= due_date <= latest:
        add(
            problems,
            ("input", "dueDate"),
            f"dueDate must be between {earliest} and {latest}"
            f" ({DUE_DATE_DAYS_BEFORE_TODAY} days before today to"
            f" {DUE_DATE_DAYS_AFTER_TODAY} days after)",
        )
    bps = 0 if tax_rate_bps is None else tax_rate_bps
    bps_ok = 0 <= bps <= MAX_TAX_RATE_BPS
    if not bps_ok:
        add(
            problems,
            ("input", "taxRateBps"),
            f"taxRateBps must be between 0 and {MAX_TAX_RATE_BPS}",
        )
    valid: list[InvoiceLine] = []
    if not 1 <= len(lines) <= MAX_LINES:
        # Lines are not inspected one by one then: that bounds the work and the error list
        # a hostile request of a million lines can cause.
        add(problems, ("input", "lines"), f"lines must contain 1 to {MAX_LINES} lines")
    else:
        for index, line in enumerate(lines):
            field = ("input", "lines", str(index))
            parsed = _parse_line(problems, field, line, currency_ok, currency)
            if parsed is not None:
                valid.append(parsed)
        # Amounts are never negative, so the valid lines alone already bound the total
        # from below: worth reporting even while other lines are wrong.
        subtotal = sum(line.quantity * line.unit_amount_minor for line in valid)
        # Rounded up: the largest total any rounding of the tax could produce.
        total = -(-subtotal * (10_000 + (bps if bps_ok else 0)) // 10_000)
        if currency_ok and total > MAX_INVOICE_TOTAL_MINOR:
            maximum = to_major_string(MAX_INVOICE_TOTAL_MINOR, currency)
            add(
                problems,
                ("input", "lines"),
                f"lines add up to more than the maximum invoice total {maximum} {currency}"
                " (including tax)",
            )
    raise_if_any(problems)
    return CreateInvoice(
        idempotency_key,
        business_id,
        customer_id,
        currency,
        due_date,
        bps,
        tuple(valid),
    )


def parse_finalize_invoice(*, idempotency_key: str, invoice_id: str) -> FinalizeInvoice:
    problems: list[FieldProblem] = []
    check_key(problems, idempotency_key)
    raise_if_any(problems)
    return FinalizeInvoice(idempotency_key, invoice_id)


def parse_void_invoice(*, idempotency_key: str, invoice_id: str) -> VoidInvoice:
    problems: list[FieldProblem] = []
    check_key(problems, idempotency_key)
    raise_if_any(problems)
    return VoidInvoice(idempotency_key, invoice_id)


def parse_pay_invoice(
    *,
    idempotency_key: str,
    invoice_id: str,
    amount: tuple[str, str] | None,
    payment_method: str,
) -> PayInvoice:
    """`amount` is MoneyInput as (decimal string, currency code); None means the amount due."""
    problems: list[FieldProblem] = []
    check_key(problems, idempotency_key)
    money = _parse_money(problems, amount)
    if PAYMENT_METHOD.fullmatch(payment_method) is None:
        add(
            problems,
            ("input", "paymentMethod"),
            "paymentMethod must be 1 to 64 visible ASCII characters (no spaces)",
        )
    raise_if_any(problems)
    return PayInvoice(idempotency_key, invoice_id, money, payment_method)


def parse_refund_payment(
    *,
    idempotency_key: str,
    payment_id: str,
    amount: tuple[str, str] | None,
    reason: str | None,
) -> RefundPayment:
    """`reason` is the RefundReason enum value, lowercased; the schema already restricts it."""
    problems: list[FieldProblem] = []
    check_key(problems, idempotency_key)
    money = _parse_money(problems, amount)
    raise_if_any(problems)
    return RefundPayment(idempotency_key, payment_id, money, reason)


def _parse_money(problems: list[FieldProblem], amount: tuple[str, str] | None) -> Money | None:
    if amount is None:
        return None
    text, currency = amount
    field = ("input", "amount")
    if not check_currency(problems, (*field, "currency"), currency):
        return None
    minor = parse_amount(problems, (*field, "amount"), text, currency, allow_zero=False)
    return None if minor is None else Money(minor, currency)


def _parse_line(
    problems: list[FieldProblem],
    field: Path,
    line: tuple[str, int, str],
    currency_ok: bool,
    currency: str,
) -> InvoiceLine | None:
    description, quantity, unit_amount = line
    before = len(problems)
    add(problems, (*field, "description"), text_problem("description", description, 500))
    if not 1 <= quantity <= MAX_QUANTITY:
        add(problems, (*field, "quantity"), f"quantity must be between 1 and {MAX_QUANTITY}")
    # Without a known currency the number of decimals is unknown; the currency problem
    # is already reported.
    minor = (
        parse_amount(problems, (*field, "unitAmount"), unit_amount, currency, allow_zero=True)
        if currency_ok
        else None
    )
    if minor is None or len(problems) != before:
        return None
    return InvoiceLine(description, quantity, minor)
