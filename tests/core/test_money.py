"""Money: exact minor/major conversion, localised display, and the strict client parser."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.money import (
    EXPONENTS,
    InvalidAmountError,
    UnsupportedCurrencyError,
    exponent,
    format_money,
    parse_major_amount,
    to_major_string,
)

CURRENCIES = st.sampled_from(sorted(EXPONENTS))
# The display prefixes, restated here so the property test checks them independently.
PREFIXES = {"GBP": "£", "INR": "₹", "EUR": "€", "USD": "$", "JPY": "¥", "KWD": "KWD "}
PROPERTY = settings(max_examples=300, deadline=None)


# --- currencies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "expected"),
    [("GBP", 2), ("INR", 2), ("EUR", 2), ("USD", 2), ("JPY", 0), ("KWD", 3)],
)
def test_each_supported_currency_has_its_iso_exponent(currency: str, expected: int) -> None:
    # Given a supported currency / When its exponent is asked / Then it is ISO 4217's
    assert exponent(currency) == expected


def test_exactly_the_contract_currencies_are_supported() -> None:
    assert set(EXPONENTS) == {"GBP", "INR", "EUR", "USD", "JPY", "KWD"}


@pytest.mark.parametrize("currency", ["", "gbp", "XXX", "CHF", "GBP ", "G\u0392P"])
def test_an_unsupported_currency_is_a_value_error_not_a_key_error(currency: str) -> None:
    # Given a code outside the contracts / When used anywhere / Then UnsupportedCurrencyError
    with pytest.raises(UnsupportedCurrencyError) as caught:
        exponent(currency)
    assert isinstance(caught.value, ValueError)
    assert not isinstance(caught.value, KeyError)
    with pytest.raises(UnsupportedCurrencyError):
        to_major_string(1, currency)
    with pytest.raises(UnsupportedCurrencyError):
        format_money(1, currency)
    with pytest.raises(UnsupportedCurrencyError):
        parse_major_amount("1", currency)


def test_the_exponent_table_cannot_be_changed_by_a_caller() -> None:
    with pytest.raises(TypeError):
        EXPONENTS["GBP"] = 3  # type: ignore[index]
    assert exponent("GBP") == 2


# --- to_major_string --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "expected"),
    [
        (125050, "GBP", "1250.50"),
        (5, "KWD", "0.005"),
        (1250500, "KWD", "1250.500"),
        (1250, "JPY", "1250"),
        (0, "GBP", "0.00"),
        (0, "JPY", "0"),
        (0, "KWD", "0.000"),
        (-500, "GBP", "-5.00"),
        (-5, "USD", "-0.05"),
        (-7, "JPY", "-7"),
        (1, "EUR", "0.01"),
        (2**31, "INR", "21474836.48"),
        (2**63 + 1, "USD", "92233720368547758.09"),
        (10**30 + 1, "KWD", "1000000000000000000000000000.001"),
    ],
)
def test_minor_units_become_the_exact_major_string(
    minor: int, currency: str, expected: str
) -> None:
    # Given an amount in minor units / When shown in the API / Then it is exact, fixed decimals
    assert to_major_string(minor, currency) == expected


def test_a_bool_is_refused_as_an_amount() -> None:
    with pytest.raises(TypeError):
        to_major_string(True, "GBP")
    with pytest.raises(TypeError):
        format_money(False, "GBP")


# --- format_money -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "expected"),
    [
        (125050, "GBP", "£1,250.50"),
        (125050, "INR", "₹1,250.50"),
        (125000000, "INR", "₹12,50,000.00"),
        (3000000000, "INR", "₹3,00,00,000.00"),
        (99900, "INR", "₹999.00"),
        (10000000, "INR", "₹1,00,000.00"),
        (125050, "EUR", "€1,250.50"),
        (125050, "USD", "$1,250.50"),
        (1250, "JPY", "¥1,250"),
        (1250500, "KWD", "KWD 1,250.500"),
        (-125050, "GBP", "-£1,250.50"),
        (-1250500, "KWD", "-KWD 1,250.500"),
        (0, "GBP", "£0.00"),
        (5, "KWD", "KWD 0.005"),
        (999, "JPY", "¥999"),
        (100000000, "USD", "$1,000,000.00"),
        (123456789, "JPY", "¥123,456,789"),
    ],
)
def test_money_is_formatted_for_display(minor: int, currency: str, expected: str) -> None:
    # Given an amount / When formatted for people / Then symbol, grouping and decimals fit
    assert format_money(minor, currency) == expected


# --- parse_major_amount: accepted -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("1250.50", "GBP", 125050),
        ("12.5", "GBP", 1250),
        ("12", "GBP", 1200),
        ("0.50", "GBP", 50),
        ("0.01", "USD", 1),
        ("0.5", "EUR", 50),
        ("1250", "JPY", 1250),
        ("1", "JPY", 1),
        ("0.005", "KWD", 5),
        ("1250.5", "KWD", 1250500),
        ("1250.500", "KWD", 1250500),
        ("1000000000", "GBP", 10**11),
        ("100000000000", "JPY", 10**11),
    ],
)
def test_a_plain_amount_is_parsed_exactly(text: str, currency: str, expected: int) -> None:
    # Given plain client text / When parsed / Then it is the exact number of minor units
    assert parse_major_amount(text, currency) == expected


@pytest.mark.parametrize(("text", "currency"), [("0", "GBP"), ("0.00", "GBP"), ("0", "JPY")])
def test_zero_is_accepted_only_when_allowed(text: str, currency: str) -> None:
    assert parse_major_amount(text, currency, allow_zero=True) == 0
    with pytest.raises(InvalidAmountError) as caught:
        parse_major_amount(text, currency)
    assert caught.value.reason == "not_positive"


def test_max_minor_is_an_inclusive_bound_the_caller_can_set() -> None:
    assert parse_major_amount("5.00", "GBP", max_minor=500) == 500
    with pytest.raises(InvalidAmountError) as caught:
        parse_major_amount("5.01", "GBP", max_minor=500)
    assert caught.value.reason == "too_large"
    assert parse_major_amount("10" * 15, "JPY", max_minor=10**40) == int("10" * 15)


# --- parse_major_amount: rejected -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "reason"),
    [
        # empty and whitespace
        ("", "GBP", "format"),
        (" ", "GBP", "format"),
        (" 12.50", "GBP", "format"),
        ("12.50 ", "GBP", "format"),
        ("12.50\n", "GBP", "format"),
        ("\t12", "GBP", "format"),
        ("1 000", "GBP", "format"),
        ("12\u00a0000", "GBP", "format"),
        # signs
        ("+12", "GBP", "format"),
        ("-12", "GBP", "format"),
        ("-0", "GBP", "format"),
        ("-0.00", "GBP", "format"),
        ("\u221212", "GBP", "format"),
        # exponent notation and special floats
        ("1e3", "GBP", "format"),
        ("1E3", "GBP", "format"),
        ("1.5e2", "GBP", "format"),
        ("NaN", "GBP", "format"),
        ("nan", "GBP", "format"),
        ("Infinity", "GBP", "format"),
        ("inf", "GBP", "format"),
        ("-inf", "GBP", "format"),
        # digits that str.isdigit() and int() accept but a reviewer may misread
        ("١٢", "GBP", "format"),
        ("１２", "GBP", "format"),
        ("१२", "INR", "format"),
        ("1٢.50", "GBP", "format"),
        ("12.５0", "GBP", "format"),
        ("²", "GBP", "format"),
        # separators
        ("1_000", "GBP", "format"),
        ("1,000", "GBP", "format"),
        ("1,000.00", "GBP", "format"),
        ("12,50", "EUR", "format"),
        ("1.000.00", "GBP", "format"),
        ("1..0", "GBP", "format"),
        # bare points
        (".5", "GBP", "format"),
        ("5.", "GBP", "format"),
        (".", "GBP", "format"),
        ("5.", "JPY", "format"),
        # leading zeros
        ("007", "GBP", "format"),
        ("00.50", "GBP", "format"),
        ("00", "GBP", "format"),
        ("01", "JPY", "format"),
        # symbols, codes, other junk
        ("£12", "GBP", "format"),
        ("12GBP", "GBP", "format"),
        ("0x10", "GBP", "format"),
        ("12\x00", "GBP", "format"),
        ("1" * 41, "GBP", "format"),
        ("0." + "0" * 39, "GBP", "format"),
        # too many decimals
        ("1.005", "GBP", "precision"),
        ("0.001", "USD", "precision"),
        ("12.5", "JPY", "precision"),
        ("12.0", "JPY", "precision"),
        ("1.0005", "KWD", "precision"),
        ("1.000", "GBP", "precision"),
        # zero
        ("0", "GBP", "not_positive"),
        ("0.0", "GBP", "not_positive"),
        ("0.00", "EUR", "not_positive"),
        ("0.000", "KWD", "not_positive"),
        ("0", "JPY", "not_positive"),
        # too large for the default bound of 10**11 minor units
        ("1000000000.01", "GBP", "too_large"),
        ("100000000001", "JPY", "too_large"),
        ("100000000.001", "KWD", "too_large"),
        ("9" * 40, "USD", "too_large"),
    ],
)
def test_anything_but_a_plain_amount_is_rejected_with_a_reason(
    text: str, currency: str, reason: str
) -> None:
    # Given client text that is not a plain in-range amount / When parsed / Then a reason
    with pytest.raises(InvalidAmountError) as caught:
        parse_major_amount(text, currency)
    assert caught.value.reason == reason
    assert isinstance(caught.value, ValueError)


def test_the_error_message_does_not_echo_the_input() -> None:
    hostile = "<script>" + "9" * 20
    with pytest.raises(InvalidAmountError) as caught:
        parse_major_amount(hostile, "GBP")
    assert "script" not in str(caught.value)


# --- properties -------------------------------------------------------------------------


def normalised(text: str, places: int) -> str:
    """`text` written with exactly `places` decimals, as the API would show it."""
    whole, _, fraction = text.partition(".")
    return whole if places == 0 else f"{whole}.{fraction.ljust(places, '0')}"


@PROPERTY
@given(currency=CURRENCIES, minor=st.integers(min_value=1, max_value=10**11))
def test_parsing_what_the_api_shows_gives_back_the_same_amount(currency: str, minor: int) -> None:
    # Given any in-range amount / When shown then parsed back / Then nothing is lost
    assert parse_major_amount(to_major_string(minor, currency), currency) == minor


@PROPERTY
@given(currency=CURRENCIES, minor=st.integers(min_value=-(2**80), max_value=2**80))
def test_the_major_string_has_exactly_the_currency_decimals(currency: str, minor: int) -> None:
    # Given any amount, even beyond 2**63 / When shown / Then fixed decimals, ASCII digits only
    places = exponent(currency)
    shown = to_major_string(minor, currency)
    pattern = r"-?(0|[1-9][0-9]*)" + (rf"\.[0-9]{{{places}}}" if places else "")
    assert re.fullmatch(pattern, shown, re.ASCII), shown
    assert shown.isascii()
    assert int(shown.replace(".", "")) == minor


@PROPERTY
@given(currency=CURRENCIES, text=st.text(alphabet="0123456789.", max_size=16))
def test_parsing_is_exact_for_every_accepted_text(currency: str, text: str) -> None:
    # Given digit-and-point text / When the parser accepts it / Then it denotes that exact value
    try:
        minor = parse_major_amount(text, currency, allow_zero=True, max_minor=10**40)
    except InvalidAmountError:
        return
    assert to_major_string(minor, currency) == normalised(text, exponent(currency))


@st.composite
def plain_amounts(draw: st.DrawFn) -> tuple[str, str]:
    """A currency and an amount written as the grammar allows, zero and huge included."""
    currency = draw(CURRENCIES)
    places = exponent(currency)
    whole = draw(st.from_regex(r"0|[1-9][0-9]{0,20}", fullmatch=True))
    if places and draw(st.booleans()):
        return currency, whole + "." + draw(st.from_regex(rf"[0-9]{{1,{places}}}", fullmatch=True))
    return currency, whole


@PROPERTY
@given(amount=plain_amounts())
def test_every_text_the_grammar_allows_is_accepted_exactly(amount: tuple[str, str]) -> None:
    # Given text in the documented grammar / When parsed with no bound / Then exact, no rejection
    currency, text = amount
    minor = parse_major_amount(text, currency, allow_zero=True, max_minor=10**40)
    assert to_major_string(minor, currency) == normalised(text, exponent(currency))


@PROPERTY
@given(currency=CURRENCIES, minor=st.integers(min_value=-(2**70), max_value=2**70))
def test_the_formatted_string_is_the_major_string_plus_symbol_and_grouping(
    currency: str, minor: int
) -> None:
    # Given any amount / When formatted / Then dropping symbol and separators gives the API value
    formatted = format_money(minor, currency)
    sign = "-" if formatted.startswith("-") else ""
    unsigned = formatted.removeprefix("-")
    assert unsigned.startswith(PREFIXES[currency]), formatted
    digits = unsigned.removeprefix(PREFIXES[currency]).replace(",", "")
    assert sign + digits == to_major_string(minor, currency)


def outcome(text: str, currency: str, *, allow_zero: bool) -> int | InvalidAmountError:
    """What parsing `text` gives: any other exception fails the test."""
    try:
        return parse_major_amount(text, currency, allow_zero=allow_zero)
    except InvalidAmountError as error:
        return error


@PROPERTY
@given(currency=CURRENCIES, text=st.text(), allow_zero=st.booleans())
def test_arbitrary_text_only_ever_raises_invalid_amount(
    currency: str, text: str, allow_zero: bool
) -> None:
    # Given any text at all / When parsed / Then an amount or InvalidAmountError, nothing else
    result = outcome(text, currency, allow_zero=allow_zero)
    if isinstance(result, InvalidAmountError):
        assert result.reason in {"format", "precision", "not_positive", "too_large"}
    else:
        assert (0 if allow_zero else 1) <= result <= 10**11
