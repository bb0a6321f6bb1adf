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
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from app.money import EXPONENTS, InvalidAmountError, parse_major_amount, to_major_string

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
    "parse_create_customer",
    "parse_create_invoice",
    "parse_finalize_invoice",
    "parse_pay_invoice",
    "parse_refund_payment",
    "parse_void_invoice",
]

Path = tuple[str, ...]

# The payments service's ceiling for one payment or refund (PaymentCreate/RefundCreate) and
# the invoicing service's for one unit price: one limit, so a price we accept can be paid.
MAX_AMOUNT_MINOR: Final = 10**11
MAX_QUANTITY: Final = 1_000_000
MAX_LINES: Final = 100
MAX_TAX_RATE_BPS: Final = 10_000
# Far above any real invoice; only there so absurd totals never reach integer columns.
MAX_INVOICE_TOTAL_MINOR: Final = 10**17
EARLIEST_DUE_DATE: Final = datetime.date(2000, 1, 1)
LATEST_DUE_DATE: Final = datetime.date(2100, 12, 31)

# Visible ASCII only: keys travel in an HTTP header (Idempotency-Key) and payment methods are
# tokens; spaces, controls and look-alike Unicode would make two keys that print the same
# compare different.
_KEY: Final = re.compile(r"[\x21-\x7e]{1,255}", re.ASCII)
_PAYMENT_METHOD: Final = re.compile(r"[\x21-\x7e]{1,64}", re.ASCII)
# Explicit ASCII digits: str.isdigit() also accepts digits from other scripts.
_PHONE: Final = re.compile(r"[0-9 +\-().]*", re.ASCII)
_PHONE_DIGIT: Final = re.compile(r"[0-9]", re.ASCII)


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One rejected field: `field` is the GraphQL input path, as UserError.field shows it."""

    message: str
    field: Path


class InvalidInput(Exception):  # noqa: N818 - the name the resolvers and the brief use
    """The input was refused before anything was sent or stored."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        # An empty list would turn into a "failed" mutation with nothing for the client to fix.
        if not problems:
            raise ValueError("InvalidInput needs at least one problem")
        self.problems: list[FieldProblem] = list(problems)
        super().__init__("; ".join(f"{'.'.join(p.field)}: {p.message}" for p in self.problems))


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
    _check_key(problems, idempotency_key)
    _add(problems, ("input", "name"), _text_problem("name", name, 200))
    if email is not None:
        _add(problems, ("input", "email"), _email_problem(email))
    if phone is not None:
        _add(problems, ("input", "phone"), _phone_problem(phone))
    _raise_if_any(problems)
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
) -> CreateInvoice:
    """`tax_rate_bps` None is an explicit GraphQL null, which means the schema default, 0."""
    problems: list[FieldProblem] = []
    _check_key(problems, idempotency_key)
    currency_ok = _check_currency(problems, ("input", "currency"), currency)
    if not EARLIEST_DUE_DATE <= due_date <= LATEST_DUE_DATE:
        _add(
            problems,
            ("input", "dueDate"),
            f"dueDate must be between {EARLIEST_DUE_DATE} and {LATEST_DUE_DATE}",
        )
    bps = 0 if tax_rate_bps is None else tax_rate_bps
    bps_ok = 0 <= bps <= MAX_TAX_RATE_BPS
    if not bps_ok:
        _add(
            problems,
            ("input", "taxRateBps"),
            f"taxRateBps must be between 0 and {MAX_TAX_RATE_BPS}",
        )
    valid: list[InvoiceLine] = []
    if not 1 <= len(lines) <= MAX_LINES:
        # Lines are not inspected one by one then: that bounds the work and the error list
        # a hostile request of a million lines can cause.
        _add(problems, ("input", "lines"), f"lines must contain 1 to {MAX_LINES} lines")
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
            _add(
                problems,
                ("input", "lines"),
                f"lines add up to more than the maximum invoice total {maximum} {currency}"
                " (including tax)",
            )
    _raise_if_any(problems)
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
    _check_key(problems, idempotency_key)
    _raise_if_any(problems)
    return FinalizeInvoice(idempotency_key, invoice_id)


def parse_void_invoice(*, idempotency_key: str, invoice_id: str) -> VoidInvoice:
    problems: list[FieldProblem] = []
    _check_key(problems, idempotency_key)
    _raise_if_any(problems)
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
    _check_key(problems, idempotency_key)
    money = _parse_money(problems, amount)
    if _PAYMENT_METHOD.fullmatch(payment_method) is None:
        _add(
            problems,
            ("input", "paymentMethod"),
            "paymentMethod must be 1 to 64 visible ASCII characters (no spaces)",
        )
    _raise_if_any(problems)
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
    _check_key(problems, idempotency_key)
    money = _parse_money(problems, amount)
    _raise_if_any(problems)
    return RefundPayment(idempotency_key, payment_id, money, reason)


# --- rules ------------------------------------------------------------------------------


def _add(problems: list[FieldProblem], field: Path, message: str | None) -> None:
    if message is not None:
        problems.append(FieldProblem(message, field))


def _raise_if_any(problems: list[FieldProblem]) -> None:
    if problems:
        raise InvalidInput(problems)


def _check_key(problems: list[FieldProblem], key: str) -> None:
    if _KEY.fullmatch(key) is None:
        _add(
            problems,
            ("input", "idempotencyKey"),
            "idempotencyKey must be 1 to 255 visible ASCII characters"
            " (letters, digits, punctuation; no spaces or control characters)",
        )


def _check_currency(problems: list[FieldProblem], field: Path, currency: str) -> bool:
    # The GraphQL enum already restricts it; checked anyway so a resolver bug surfaces as a
    # clear input problem rather than an UnsupportedCurrencyError deep in a handler.
    if currency in EXPONENTS:
        return True
    _add(problems, field, f"{field[-1]} must be one of {', '.join(EXPONENTS)}")
    return False


def _parse_money(problems: list[FieldProblem], amount: tuple[str, str] | None) -> Money | None:
    if amount is None:
        return None
    text, currency = amount
    field = ("input", "amount")
    if not _check_currency(problems, (*field, "currency"), currency):
        return None
    minor = _parse_amount(problems, (*field, "amount"), text, currency, allow_zero=False)
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
    _add(problems, (*field, "description"), _text_problem("description", description, 500))
    if not 1 <= quantity <= MAX_QUANTITY:
        _add(problems, (*field, "quantity"), f"quantity must be between 1 and {MAX_QUANTITY}")
    # Without a known currency the number of decimals is unknown; the currency problem
    # is already reported.
    minor = (
        _parse_amount(problems, (*field, "unitAmount"), unit_amount, currency, allow_zero=True)
        if currency_ok
        else None
    )
    if minor is None or len(problems) != before:
        return None
    return InvoiceLine(description, quantity, minor)


def _parse_amount(
    problems: list[FieldProblem],
    field: Path,
    text: str,
    currency: str,
    *,
    allow_zero: bool,
) -> int | None:
    try:
        return parse_major_amount(text, currency, allow_zero=allow_zero, max_minor=MAX_AMOUNT_MINOR)
    except InvalidAmountError as error:
        _add(problems, field, f"{field[-1]} {_amount_message(error, currency)}")
        return None


def _amount_message(error: InvalidAmountError, currency: str) -> str:
    places = EXPONENTS[currency]
    if error.reason == "precision":
        return f"has more decimals than {currency} allows ({places})"
    if error.reason == "not_positive":
        return "must be greater than zero"
    if error.reason == "too_large":
        maximum = to_major_string(MAX_AMOUNT_MINOR, currency)
        return f"is larger than the maximum {maximum} {currency}"
    # 12.50 / 12 / 12.500: an example with exactly the currency's decimals.
    example = to_major_string(1250 * 10**places // 100, currency)
    return f"must be a plain decimal such as {example}"


def _text_problem(label: str, value: str, max_length: int) -> str | None:
    # Length first, so the character scans below only ever run on short strings.
    if not 1 <= len(value) <= max_length:
        return f"{label} must be 1 to {max_length} characters"
    if value.isspace():
        return f"{label} must not be blank"
    if _has_forbidden_character(value):
        return f"{label} must not contain control characters"
    return None


def _email_problem(email: str) -> str | None:
    if len(email) > 254:
        return "email must be at most 254 characters"
    local, _, domain = email.partition("@")
    if (
        email.count("@") != 1
        or not local
        or not domain
        or any(char.isspace() for char in email)
        or _has_forbidden_character(email)
    ):
        return "email must be one address such as name@example.com, without spaces"
    return None


def _phone_problem(phone: str) -> str | None:
    if len(phone) > 32:
        return "phone must be at most 32 characters"
    if _PHONE.fullmatch(phone) is None or len(_PHONE_DIGIT.findall(phone)) < 5:
        return "phone must have at least 5 digits and only digits, spaces and + - ( ) ."
    return None


def _has_forbidden_character(value: str) -> bool:
    # Cc: C0, DEL and C1 controls (they rewrite terminals and break CSV exports and emails).
    # Cs: unpaired surrogates, which cannot be encoded as UTF-8 and so cannot be stored.
    return any(unicodedata.category(char) in {"Cc", "Cs"} for char in value)
