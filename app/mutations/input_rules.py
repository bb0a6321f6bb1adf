"""The field rules mutation inputs are checked against (app/mutations/inputs.py parses
with them): idempotency keys, currencies, amounts, text, email and phone. Each rule adds a
FieldProblem naming the field, never echoing the value."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from app.core.money import EXPONENTS, InvalidAmountError, parse_major_amount, to_major_string

Path = tuple[str, ...]

# The payments service's ceiling for one payment or refund (PaymentCreate/RefundCreate) and
# the invoicing service's for one unit price: one limit, so a price we accept can be paid.
MAX_AMOUNT_MINOR: Final = 10**11

# Visible ASCII only: keys travel in an HTTP header (Idempotency-Key) and payment methods are
# tokens; spaces, controls and look-alike Unicode would make two keys that print the same
# compare different.
KEY_SHAPE: Final = re.compile(r"[\x21-\x7e]{1,255}", re.ASCII)
PAYMENT_METHOD: Final = re.compile(r"[\x21-\x7e]{1,64}", re.ASCII)
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


def add(problems: list[FieldProblem], field: Path, message: str | None) -> None:
    if message is not None:
        problems.append(FieldProblem(message, field))


def raise_if_any(problems: list[FieldProblem]) -> None:
    if problems:
        raise InvalidInput(problems)


def check_key(problems: list[FieldProblem], key: str) -> None:
    if KEY_SHAPE.fullmatch(key) is None:
        add(
            problems,
            ("input", "idempotencyKey"),
            "idempotencyKey must be 1 to 255 visible ASCII characters"
            " (letters, digits, punctuation; no spaces or control characters)",
        )


def check_currency(problems: list[FieldProblem], field: Path, currency: str) -> bool:
    # The GraphQL enum already restricts it; checked anyway so a resolver bug surfaces as a
    # clear input problem rather than an UnsupportedCurrencyError deep in a handler.
    if currency in EXPONENTS:
        return True
    add(problems, field, f"{field[-1]} must be one of {', '.join(EXPONENTS)}")
    return False


def parse_amount(
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
        add(problems, field, f"{field[-1]} {_amount_message(error, currency)}")
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


def text_problem(label: str, value: str, max_length: int) -> str | None:
    # Length first, so the character scans below only ever run on short strings.
    if not 1 <= len(value) <= max_length:
        return f"{label} must be 1 to {max_length} characters"
    if value.isspace():
        return f"{label} must not be blank"
    if _has_forbidden_character(value):
        return f"{label} must not contain control characters"
    return None


def email_problem(email: str) -> str | None:
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


def phone_problem(phone: str) -> str | None:
    if len(phone) > 32:
        return "phone must be at most 32 characters"
    if _PHONE.fullmatch(phone) is None or len(_PHONE_DIGIT.findall(phone)) < 5:
        return "phone must have at least 5 digits and only digits, spaces and + - ( ) ."
    return None


def _has_forbidden_character(value: str) -> bool:
    # Cc: C0, DEL and C1 controls (they rewrite terminals and break CSV exports and emails).
    # Cs: unpaired surrogates, which cannot be encoded as UTF-8 and so cannot be stored.
    return any(unicodedata.category(char) in {"Cc", "Cs"} for char in value)
