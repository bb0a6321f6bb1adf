"""Money arithmetic in integer minor units; floats never touch an amount."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CURRENCIES = ("GBP", "INR", "EUR", "USD", "JPY", "KWD")
EXPONENTS = {"GBP": 2, "INR": 2, "EUR": 2, "USD": 2, "JPY": 0, "KWD": 3}
BPS_DENOMINATOR = 10_000


def div_half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest integer, ties to even (both >= 0)."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


@dataclass(frozen=True)
class Totals:
    line_amounts: tuple[int, ...]
    subtotal: int
    tax: int
    total: int


def invoice_totals(lines: Sequence[tuple[int, int]], tax_rate_bps: int) -> Totals:
    """Totals of (quantity, unit_amount) lines, as the invoicing contract defines them."""
    amounts = tuple(quantity * unit_amount for quantity, unit_amount in lines)
    subtotal = sum(amounts)
    tax = div_half_even(subtotal * tax_rate_bps, BPS_DENOMINATOR)
    return Totals(amounts, subtotal, tax, subtotal + tax)
