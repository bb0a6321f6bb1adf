"""Money at the gateway boundary: integer minor units inside, decimal strings outside.

Downstream services carry an integer count of the currency's minor units plus an ISO 4217
code; the public API shows a decimal string in major units. Every conversion here is integer
or string arithmetic, never float, so an amount is never off by a rounding error however
large it is (invoice totals can exceed 2**63).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

# ISO 4217 minor-unit exponents of the currencies the contracts support. Read-only, so no
# caller can quietly change how every other caller scales amounts.
EXPONENTS: Final[Mapping[str, int]] = MappingProxyType(
    {"GBP": 2, "INR": 2, "EUR": 2, "USD": 2, "JPY": 0, "KWD": 3}
)

# Display prefixes. The API is English-language, so these follow the CLDR English
# conventions: the narrow symbol in front of the number (what UK, Indian and US readers
# expect; the same amount tagged EUR renders "1.250,50 €" only in other locales, and clients
# that need those format `amount` themselves). KWD shows its code, not the Arabic symbol
# "د.ك": a right-to-left symbol inside a left-to-right string reorders unpredictably in UIs,
# and CLDR English itself uses the code, separated by a space because it ends in a letter.
# `currency` is always returned next to `formatted`, so "$" and "¥" are not ambiguous.
_PREFIXES: Final[Mapping[str, str]] = MappingProxyType(
    {"GBP": "£", "INR": "₹", "EUR": "€", "USD": "$", "JPY": "¥", "KWD": "KWD "}
)

# Indian readers group the integer part as lakh and crore (12,50,000 / 3,00,00,000):
# the last three digits, then pairs. Every other currency here uses groups of three.
_INDIAN_GROUPING: Final = frozenset({"INR"})

# Longer than any amount we could accept; checked before the regex so hostile input costs
# nothing.
_MAX_INPUT_LENGTH: Final = 40

# Explicit [0-9] (and re.ASCII for good measure): str.isdigit() and int() also accept
# Arabic-Indic, fullwidth and Devanagari digits, which a client could use to slip past
# validation that a human reviewer reads differently. No sign, no exponent, no separators,
# no leading zeros: one spelling per amount.
_AMOUNT: Final = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?", re.ASCII)

Reason = Literal["format", "precision", "not_positive", "too_large"]


class UnsupportedCurrencyError(ValueError):
    """A currency code outside the contracts' list; raised instead of a bare KeyError."""

    def __init__(self, currency: str) -> None:
        # Truncated: the code may come from a client and end up in logs.
        super().__init__(f"unsupported currency {currency[:16]!r}")
        self.currency = currency


class InvalidAmountError(ValueError):
    """Client amount rejected; `reason` is stable for mapping to API error codes."""

    def __init__(self, reason: Reason, message: str) -> None:
        # The message deliberately never echoes the input: it may be hostile or huge.
        super().__init__(message)
        self.reason: Reason = reason


def exponent(currency: str) -> int:
    try:
        return EXPONENTS[currency]
    except KeyError:
        raise UnsupportedCurrencyError(currency) from None


def to_major_string(minor: int, currency: str) -> str:
    """The API's decimal string: always exactly the currency's number of decimals."""
    # bool is an int subclass; True meaning "0.01" would only ever be a bug upstream.
    if isinstance(minor, bool):
        raise TypeError("amount in minor units must be an int, not a bool")
    places = exponent(currency)
    sign = "-" if minor < 0 else ""
    scale: int = 10**places  # annotated: typeshed types int ** int as Any
    whole, fraction = divmod(abs(minor), scale)
    if places == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{places}d}"


def format_money(minor: int, currency: str) -> str:
    """Human display string; built from to_major_string so the two can never disagree."""
    major = to_major_string(minor, currency)
    sign, unsigned = ("-", major[1:]) if major.startswith("-") else ("", major)
    whole, dot, fraction = unsigned.partition(".")
    grouped = _group(whole, pair_groups=currency in _INDIAN_GROUPING)
    return f"{sign}{_PREFIXES[currency]}{grouped}{dot}{fraction}"


def _group(digits: str, *, pair_groups: bool) -> str:
    # The two common cases in C: a dashboard formats a few hundred amounts per request.
    if len(digits) <= 3:
        return digits
    if not pair_groups:
        return f"{int(digits):,}"
    head, tail = digits[:-3], digits[-3:]
    size = 2 if pair_groups else 3
    groups = [tail]
    while head:
        groups.append(head[-size:])
        head = head[:-size]
    return ",".join(reversed(groups))


def parse_major_amount(
    text: str, currency: str, *, allow_zero: bool = False, max_minor: int = 10**11
) -> int:
    """Strictly parse a client's major-unit amount into minor units.

    Strict because an amount a human reads one way and the parser reads another is a
    payment for the wrong sum: anything but plain ASCII digits with an optional point is
    refused, not repaired. The default bound keeps a typo or probe from reaching the
    payments service as a plausible-looking huge payment.
    """
    places = exponent(currency)
    if len(text) > _MAX_INPUT_LENGTH:
        raise InvalidAmountError("format", "amount is too long")
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise InvalidAmountError("format", "amount must be plain digits with an optional '.'")
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > places:
        raise InvalidAmountError(
            "precision", f"{currency} amounts allow at most {places} decimal places"
        )
    scale: int = 10**places
    minor = int(whole) * scale + int(fraction.ljust(places, "0") or "0")
    if minor == 0 and not allow_zero:
        raise InvalidAmountError("not_positive", "amount must be greater than zero")
    if minor > max_minor:
        raise InvalidAmountError("too_large", "amount exceeds the allowed maximum")
    return minor
