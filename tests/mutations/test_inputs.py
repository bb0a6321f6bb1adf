"""Mutation inputs: every rule, every problem reported at once, canonical fingerprints."""

from __future__ import annotations

import contextlib
import datetime
import json
from collections.abc import Callable, Sequence
from typing import Protocol

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.money import EXPONENTS, to_major_string
from app.mutations.inputs import (
    CreateCustomer,
    CreateInvoice,
    FieldProblem,
    InvalidInput,
    InvoiceLine,
    Money,
    PayInvoice,
    RefundPayment,
    parse_create_customer,
    parse_create_invoice,
    parse_finalize_invoice,
    parse_pay_invoice,
    parse_refund_payment,
    parse_void_invoice,
)

KEY = "key-0001"
# The app's calendar date in these tests; DUE is a due date inside its window.
TODAY = datetime.date(2026, 12, 1)
DUE = datetime.date(2026, 12, 31)
LINE = ("Consulting", 2, "100.00")
PROPERTY = settings(max_examples=150, deadline=None)

# Restated here rather than imported, so a change to a client-visible message is deliberate.
KEY_MESSAGE = (
    "idempotencyKey must be 1 to 255 visible ASCII characters"
    " (letters, digits, punctuation; no spaces or control characters)"
)
CURRENCY_MESSAGE = "currency must be one of GBP, INR, EUR, USD, JPY, KWD"
EMAIL_MESSAGE = "email must be one address such as name@example.com, without spaces"
PHONE_MESSAGE = "phone must have at least 5 digits and only digits, spaces and + - ( ) ."
METHOD_MESSAGE = "paymentMethod must be 1 to 64 visible ASCII characters (no spaces)"

KEY_FIELD = ("input", "idempotencyKey")
AMOUNT_FIELD = ("input", "amount", "amount")
LINES_FIELD = ("input", "lines")


# --- helpers: one valid input per mutation, overridable field by field -------------------


def customer(
    *,
    idempotency_key: str = KEY,
    business_id: str = "biz_1",
    name: str = "Ada Lovelace",
    email: str | None = "ada@example.com",
    phone: str | None = "+44 20 7946 0958",
) -> CreateCustomer:
    return parse_create_customer(
        idempotency_key=idempotency_key,
        business_id=business_id,
        name=name,
        email=email,
        phone=phone,
    )


def invoice(
    *,
    idempotency_key: str = KEY,
    business_id: str = "biz_1",
    customer_id: str = "cus_1",
    currency: str = "GBP",
    due_date: datetime.date = DUE,
    tax_rate_bps: int | None = 2000,
    lines: Sequence[tuple[str, int, str]] = (LINE,),
    today: datetime.date = TODAY,
) -> CreateInvoice:
    return parse_create_invoice(
        idempotency_key=idempotency_key,
        business_id=business_id,
        customer_id=customer_id,
        currency=currency,
        due_date=due_date,
        tax_rate_bps=tax_rate_bps,
        lines=lines,
        today=today,
    )


def pay(
    *,
    idempotency_key: str = KEY,
    invoice_id: str = "inv_1",
    amount: tuple[str, str] | None = ("12.50", "GBP"),
    payment_method: str = "pm_card_ok",
) -> PayInvoice:
    return parse_pay_invoice(
        idempotency_key=idempotency_key,
        invoice_id=invoice_id,
        amount=amount,
        payment_method=payment_method,
    )


def refund(
    *,
    idempotency_key: str = KEY,
    payment_id: str = "pay_1",
    amount: tuple[str, str] | None = ("12.50", "GBP"),
    reason: str | None = "duplicate",
) -> RefundPayment:
    return parse_refund_payment(
        idempotency_key=idempotency_key, payment_id=payment_id, amount=amount, reason=reason
    )


class Fingerprinted(Protocol):
    def fingerprint_data(self) -> dict[str, object]: ...


def rejected(call: Callable[[], object]) -> list[FieldProblem]:
    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value.problems


def problem(field: tuple[str, ...], message: str) -> list[FieldProblem]:
    return [FieldProblem(message, field)]


WITH_KEY: dict[str, Callable[[str], object]] = {
    "createCustomer": lambda key: customer(idempotency_key=key),
    "createInvoice": lambda key: invoice(idempotency_key=key),
    "finalizeInvoice": lambda key: parse_finalize_invoice(idempotency_key=key, invoice_id="i"),
    "voidInvoice": lambda key: parse_void_invoice(idempotency_key=key, invoice_id="i"),
    "payInvoice": lambda key: pay(idempotency_key=key),
    "refundPayment": lambda key: refund(idempotency_key=key),
}
MUTATIONS = pytest.mark.parametrize("mutation", sorted(WITH_KEY))


# --- valid inputs -----------------------------------------------------------------------


def test_a_valid_create_customer_is_carried_exactly_as_sent() -> None:
    # Given padding and mixed case / When parsed / Then nothing is stripped or folded
    parsed = customer(name=" Ada ", email="Ada@Example.COM", phone="(020) 7946-0958")
    assert parsed == CreateCustomer(KEY, "biz_1", " Ada ", "Ada@Example.COM", "(020) 7946-0958")


def test_email_and_phone_are_optional() -> None:
    assert customer(email=None, phone=None) == CreateCustomer(
        KEY, "biz_1", "Ada Lovelace", None, None
    )


def test_a_valid_create_invoice_has_minor_unit_lines() -> None:
    parsed = invoice(lines=[("Consulting", 2, "100.5"), ("Free sample", 1, "0")])
    assert parsed == CreateInvoice(
        KEY,
        "biz_1",
        "cus_1",
        "GBP",
        DUE,
        2000,
        (InvoiceLine("Consulting", 2, 10050), InvoiceLine("Free sample", 1, 0)),
    )


def test_an_explicit_null_tax_rate_is_the_schema_default_zero() -> None:
    assert invoice(tax_rate_bps=None).tax_rate_bps == 0


def test_finalize_and_void_carry_their_ids() -> None:
    assert parse_finalize_invoice(idempotency_key=KEY, invoice_id="inv_1").invoice_id == "inv_1"
    assert parse_void_invoice(idempotency_key=KEY, invoice_id="inv_1").invoice_id == "inv_1"


def test_pay_and_refund_parse_money_and_default_to_no_amount() -> None:
    assert pay() == PayInvoice(KEY, "inv_1", Money(1250, "GBP"), "pm_card_ok")
    assert pay(amount=None).amount is None
    assert refund() == RefundPayment(KEY, "pay_1", Money(1250, "GBP"), "duplicate")
    assert refund(amount=None, reason=None) == RefundPayment(KEY, "pay_1", None, None)


@pytest.mark.parametrize("bad_id", ["", "not-an-id", "inv_ with space", "\x00", "x" * 1000])
def test_ids_are_not_validated_here_so_malformed_ones_answer_like_missing_ones(
    bad_id: str,
) -> None:
    # Given any id / When parsed / Then it is carried unchanged for the service to NOT_FOUND
    assert pay(invoice_id=bad_id).invoice_id == bad_id
    assert refund(payment_id=bad_id).payment_id == bad_id
    assert parse_void_invoice(idempotency_key=KEY, invoice_id=bad_id).invoice_id == bad_id
    assert invoice(business_id=bad_id, customer_id=bad_id).customer_id == bad_id
    assert customer(business_id=bad_id).business_id == bad_id


# --- idempotency keys -------------------------------------------------------------------


@MUTATIONS
@pytest.mark.parametrize("key", ["!", "~", "a", "Key_01-ABC:x/y=z", "k" * 255])
def test_keys_of_visible_ascii_are_accepted(mutation: str, key: str) -> None:
    WITH_KEY[mutation](key)


@MUTATIONS
@pytest.mark.parametrize(
    "key",
    [
        pytest.param("", id="empty"),
        pytest.param("k" * 256, id="too-long"),
        pytest.param("a b", id="space"),
        pytest.param(" key", id="leading-space"),
        pytest.param("key\t", id="tab"),
        pytest.param("key\n", id="newline"),
        pytest.param("key\x00", id="nul"),
        pytest.param("key\x7f", id="del"),
        pytest.param("key\x85", id="c1-control"),
        pytest.param("clé", id="non-ascii"),
        pytest.param("ｋｅｙ", id="fullwidth"),
        pytest.param("key\u00a0", id="nbsp"),
        pytest.param("key\ud800", id="lone-surrogate"),
    ],
)
def test_other_keys_are_rejected_at_the_key_field(mutation: str, key: str) -> None:
    assert rejected(lambda: WITH_KEY[mutation](key)) == problem(KEY_FIELD, KEY_MESSAGE)


# --- MoneyInput amounts -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12.5", "GBP", 1250),
        ("12.50", "GBP", 1250),
        ("12", "GBP", 1200),
        ("0.01", "GBP", 1),
        ("1000000000.00", "GBP", 10**11),
        ("1250", "JPY", 1250),
        ("100000000000", "JPY", 10**11),
        ("0.001", "KWD", 1),
        ("100000000", "KWD", 10**11),
        ("99.99", "INR", 9999),
        ("7", "EUR", 700),
        ("7.1", "USD", 710),
    ],
)
def test_money_amounts_parse_to_minor_units(text: str, currency: str, minor: int) -> None:
    assert pay(amount=(text, currency)).amount == Money(minor, currency)
    assert refund(amount=(text, currency)).amount == Money(minor, currency)


GBP_FORMAT = "amount must be a plain decimal such as 12.50"
BAD_AMOUNTS = [
    ("0", "GBP", "amount must be greater than zero"),
    ("0.00", "GBP", "amount must be greater than zero"),
    ("0", "JPY", "amount must be greater than zero"),
    ("0.000", "KWD", "amount must be greater than zero"),
    ("-1", "GBP", GBP_FORMAT),
    ("-0", "GBP", GBP_FORMAT),
    ("-0.00", "GBP", GBP_FORMAT),
    ("+1", "GBP", GBP_FORMAT),
    ("12.505", "GBP", "amount has more decimals than GBP allows (2)"),
    ("12.500", "USD", "amount has more decimals than USD allows (2)"),
    ("12.5", "JPY", "amount has more decimals than JPY allows (0)"),
    ("12.0", "JPY", "amount has more decimals than JPY allows (0)"),
    ("1.0001", "KWD", "amount has more decimals than KWD allows (3)"),
    ("1e3", "GBP", GBP_FORMAT),
    ("1E3", "GBP", GBP_FORMAT),
    ("1.5e-2", "GBP", GBP_FORMAT),
    ("NaN", "GBP", GBP_FORMAT),
    ("nan", "GBP", GBP_FORMAT),
    ("Infinity", "GBP", GBP_FORMAT),
    ("-Infinity", "GBP", GBP_FORMAT),
    ("inf", "GBP", GBP_FORMAT),
    ("١٢", "GBP", GBP_FORMAT),  # Arabic-Indic digits
    ("１２", "GBP", GBP_FORMAT),  # fullwidth digits
    ("१२", "GBP", GBP_FORMAT),  # Devanagari digits
    ("1_000", "GBP", GBP_FORMAT),
    ("1,000.00", "GBP", GBP_FORMAT),
    (" 12.50", "GBP", GBP_FORMAT),
    ("12.50 ", "GBP", GBP_FORMAT),
    ("12.50\n", "GBP", GBP_FORMAT),
    ("", "GBP", GBP_FORMAT),
    (".5", "GBP", GBP_FORMAT),
    ("5.", "GBP", GBP_FORMAT),
    ("05", "GBP", GBP_FORMAT),
    ("£5", "GBP", GBP_FORMAT),
    ("1" * 41, "GBP", GBP_FORMAT),
    ("abc", "JPY", "amount must be a plain decimal such as 12"),
    ("abc", "KWD", "amount must be a plain decimal such as 12.500"),
    ("1000000000.01", "GBP", "amount is larger than the maximum 1000000000.00 GBP"),
    ("100000000001", "JPY", "amount is larger than the maximum 100000000000 JPY"),
    ("100000000.001", "KWD", "amount is larger than the maximum 100000000.000 KWD"),
    ("99999999999999999999", "EUR", "amount is larger than the maximum 1000000000.00 EUR"),
]


@pytest.mark.parametrize(("text", "currency", "message"), BAD_AMOUNTS)
def test_bad_money_amounts_are_rejected_at_amount_amount(
    text: str, currency: str, message: str
) -> None:
    # Given a bad MoneyInput.amount / When paying or refunding / Then one problem, named
    assert rejected(lambda: pay(amount=(text, currency))) == problem(AMOUNT_FIELD, message)
    assert rejected(lambda: refund(amount=(text, currency))) == problem(AMOUNT_FIELD, message)


@pytest.mark.parametrize("currency", ["", "gbp", "XXX", "GBP "])
def test_an_unknown_money_currency_is_reported_at_its_own_field(currency: str) -> None:
    # Given a currency the enum should have refused / Then the currency, not the amount
    expected = problem(("input", "amount", "currency"), CURRENCY_MESSAGE)
    assert rejected(lambda: pay(amount=("not a number", currency))) == expected
    assert rejected(lambda: refund(amount=("1", currency))) == expected


# --- payment methods --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["pm_card_ok", "x", "m" * 64, "pm:ok/1~"])
def test_visible_ascii_payment_methods_are_accepted(method: str) -> None:
    assert pay(payment_method=method).payment_method == method


@pytest.mark.parametrize(
    "method", ["", "m" * 65, "pm card", " pm", "pm\n", "pm\x00", "pm_é", "pm\u200b"]
)
def test_other_payment_methods_are_rejected(method: str) -> None:
    expected = problem(("input", "paymentMethod"), METHOD_MESSAGE)
    assert rejected(lambda: pay(payment_method=method)) == expected


# --- createCustomer ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["A", "n" * 200, "Zoë Ünal", "李小龍", " padded ", "O'Neil & Co."])
def test_names_are_accepted(name: str) -> None:
    assert customer(name=name).name == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "name must be 1 to 200 characters"),
        ("n" * 201, "name must be 1 to 200 characters"),
        (" ", "name must not be blank"),
        ("\t\n", "name must not be blank"),
        ("\u3000", "name must not be blank"),
        ("Ada\nLovelace", "name must not contain control characters"),
        ("Ada\x00", "name must not contain control characters"),
        ("Ada\x1b[31m", "name must not contain control characters"),
        ("Ada\x7f", "name must not contain control characters"),
        ("Ada\x9b", "name must not contain control characters"),
        ("Ada\udc00", "name must not contain control characters"),
    ],
)
def test_bad_names_are_rejected(name: str, message: str) -> None:
    assert rejected(lambda: customer(name=name)) == problem(("input", "name"), message)


@pytest.mark.parametrize(
    "email",
    ["a@b", "ada@example.com", "Ada.Lovelace+bills@mail.example.co.uk", "zoë@exämple.de"],
)
def test_emails_are_accepted(email: str) -> None:
    assert customer(email=email).email == email


def test_an_email_of_exactly_254_characters_is_accepted() -> None:
    email = "a" * 64 + "@" + "d" * 189
    assert len(email) == 254
    assert customer(email=email).email == email


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("a" * 64 + "@" + "d" * 190, "email must be at most 254 characters"),
        ("", EMAIL_MESSAGE),
        ("ada", EMAIL_MESSAGE),
        ("ada@@example.com", EMAIL_MESSAGE),
        ("ada@ex@ample.com", EMAIL_MESSAGE),
        ("@example.com", EMAIL_MESSAGE),
        ("ada@", EMAIL_MESSAGE),
        ("@", EMAIL_MESSAGE),
        ("ada lovelace@example.com", EMAIL_MESSAGE),
        (" ada@example.com", EMAIL_MESSAGE),
        ("ada@example.com ", EMAIL_MESSAGE),
        ("ada@exa\tmple.com", EMAIL_MESSAGE),
        ("ada\u00a0@example.com", EMAIL_MESSAGE),
        ("ada@example.com\x00", EMAIL_MESSAGE),
        ("ada@example.com\x7f", EMAIL_MESSAGE),
    ],
)
def test_bad_emails_are_rejected(email: str, message: str) -> None:
    assert rejected(lambda: customer(email=email)) == problem(("input", "email"), message)


@pytest.mark.parametrize(
    "phone", ["12345", "+44 20 7946 0958", "(020) 7946-0958", "+91.98765.43210", "1" * 32]
)
def test_phones_are_accepted(phone: str) -> None:
    assert customer(phone=phone).phone == phone


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("1" * 33, "phone must be at most 32 characters"),
        ("", PHONE_MESSAGE),
        ("1234", PHONE_MESSAGE),
        ("+(12) 3-4.", PHONE_MESSAGE),
        ("+44 20 CALL NOW", PHONE_MESSAGE),
        ("12345 ext 6", PHONE_MESSAGE),
        ("12345\n", PHONE_MESSAGE),
        ("12345\t6", PHONE_MESSAGE),
        ("١٢٣٤٥", PHONE_MESSAGE),
        ("１２３４５", PHONE_MESSAGE),
        ("+44/20/7946", PHONE_MESSAGE),
    ],
)
def test_bad_phones_are_rejected(phone: str, message: str) -> None:
    assert rejected(lambda: customer(phone=phone)) == problem(("input", "phone"), message)


# --- createInvoice ----------------------------------------------------------------------


def line_field(index: int, name: str) -> tuple[str, ...]:
    return ("input", "lines", str(index), name)


@pytest.mark.parametrize("count", [1, 100])
def test_one_to_a_hundred_lines_are_accepted(count: int) -> None:
    assert len(invoice(lines=[LINE] * count).lines) == count


@pytest.mark.parametrize("count", [0, 101, 10_000])
def test_other_line_counts_are_rejected_at_lines(count: int) -> None:
    # Given a bad count with bad lines too / Then only the count: lines are not inspected
    lines = [("", 0, "x")] * count
    expected = problem(LINES_FIELD, "lines must contain 1 to 100 lines")
    assert rejected(lambda: invoice(lines=lines)) == expected


@pytest.mark.parametrize(
    "description", ["x", "d" * 500, " Consulting, March ", "Café ☕ — 2×", "設計"]
)
def test_descriptions_are_accepted(description: str) -> None:
    assert invoice(lines=[(description, 1, "1")]).lines[0].description == description


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("", "description must be 1 to 500 characters"),
        ("d" * 501, "description must be 1 to 500 characters"),
        ("   ", "description must not be blank"),
        ("\n", "description must not be blank"),
        ("two\nlines", "description must not contain control characters"),
        ("bell\x07", "description must not contain control characters"),
        ("c1\x85", "description must not contain control characters"),
        ("half\ud83d", "description must not contain control characters"),
    ],
)
def test_bad_descriptions_are_rejected(description: str, message: str) -> None:
    lines = [LINE, (description, 1, "1")]
    expected = problem(line_field(1, "description"), message)
    assert rejected(lambda: invoice(lines=lines)) == expected


@pytest.mark.parametrize("quantity", [1, 1_000_000])
def test_quantities_in_range_are_accepted(quantity: int) -> None:
    assert invoice(lines=[("x", quantity, "1")]).lines[0].quantity == quantity


@pytest.mark.parametrize("quantity", [0, -1, 1_000_001, 10**30])
def test_quantities_out_of_range_are_rejected(quantity: int) -> None:
    expected = problem(line_field(0, "quantity"), "quantity must be between 1 and 1000000")
    assert rejected(lambda: invoice(lines=[("x", quantity, "1")])) == expected


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("0", "GBP", 0),
        ("0.00", "GBP", 0),
        ("0", "JPY", 0),
        ("0.000", "KWD", 0),
        ("19.99", "EUR", 1999),
        ("1000000000.00", "GBP", 10**11),
    ],
)
def test_unit_amounts_may_be_zero(text: str, currency: str, minor: int) -> None:
    parsed = invoice(currency=currency, lines=[("x", 1, text)])
    assert parsed.lines[0].unit_amount_minor == minor


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("-1", "GBP", "unitAmount must be a plain decimal such as 12.50"),
        ("-0", "GBP", "unitAmount must be a plain decimal such as 12.50"),
        ("NaN", "GBP", "unitAmount must be a plain decimal such as 12.50"),
        ("1e2", "GBP", "unitAmount must be a plain decimal such as 12.50"),
        ("", "JPY", "unitAmount must be a plain decimal such as 12"),
        (" 1", "KWD", "unitAmount must be a plain decimal such as 12.500"),
        ("1.001", "GBP", "unitAmount has more decimals than GBP allows (2)"),
        ("1.5", "JPY", "unitAmount has more decimals than JPY allows (0)"),
        ("1000000000.01", "GBP", "unitAmount is larger than the maximum 1000000000.00 GBP"),
    ],
)
def test_bad_unit_amounts_are_rejected_at_their_line(
    text: str, currency: str, message: str
) -> None:
    lines = [("a", 1, "1"), ("b", 1, "1"), ("x", 1, text)]
    expected = problem(line_field(2, "unitAmount"), message)
    assert rejected(lambda: invoice(currency=currency, lines=lines)) == expected


@pytest.mark.parametrize("bps", [0, 2000, 10_000])
def test_tax_rates_in_range_are_accepted(bps: int) -> None:
    assert invoice(tax_rate_bps=bps).tax_rate_bps == bps


@pytest.mark.parametrize("bps", [-1, 10_001, 10**20])
def test_tax_rates_out_of_range_are_rejected(bps: int) -> None:
    expected = problem(("input", "taxRateBps"), "taxRateBps must be between 0 and 10000")
    assert rejected(lambda: invoice(tax_rate_bps=bps)) == expected


WINDOW_MESSAGE = (
    "dueDate must be between 2026-11-01 and 2028-11-30 (30 days before today to 730 days after)"
)


@pytest.mark.parametrize(
    "due",
    [
        TODAY - datetime.timedelta(days=30),
        TODAY,
        TODAY + datetime.timedelta(days=730),
    ],
    ids=["30-days-back", "today", "730-days-ahead"],
)
def test_due_dates_inside_the_window_around_today_are_accepted(due: datetime.date) -> None:
    assert invoice(due_date=due).due_date == due


@pytest.mark.parametrize(
    "due",
    [
        TODAY - datetime.timedelta(days=31),
        TODAY + datetime.timedelta(days=731),
        datetime.date(1996, 12, 1),
        datetime.date(2062, 12, 1),
        datetime.date(1, 1, 1),
        datetime.date(9999, 12, 31),
    ],
    ids=["31-days-back", "731-days-ahead", "decades-back", "decades-ahead", "min", "max"],
)
def test_due_dates_outside_the_window_are_rejected_naming_it(due: datetime.date) -> None:
    expected = problem(("input", "dueDate"), WINDOW_MESSAGE)
    assert rejected(lambda: invoice(due_date=due)) == expected


def test_the_window_is_around_the_apps_today_not_the_machines() -> None:
    # Given a due date a month ahead of one day
    due = datetime.date(2030, 6, 1)
    # When the app's today is that day / Then it is accepted
    assert invoice(due_date=due, today=datetime.date(2030, 5, 1)).due_date == due
    # When the app's today is years before or after it / Then refused, the window moved
    assert rejected(lambda: invoice(due_date=due, today=TODAY)) == problem(
        ("input", "dueDate"), WINDOW_MESSAGE
    )
    assert rejected(lambda: invoice(due_date=due, today=datetime.date(2030, 7, 2))) == problem(
        ("input", "dueDate"),
        "dueDate must be between 2030-06-02 and 2032-07-01 (30 days before today to 730 days"
        " after)",
    )


def test_an_unknown_invoice_currency_is_reported_and_amounts_are_not_guessed() -> None:
    # Given an unknown currency / Then its field only: the decimals allowed are unknown
    lines = [("x", 1, "1.2345"), ("y", 1, "abc")]
    expected = problem(("input", "currency"), CURRENCY_MESSAGE)
    assert rejected(lambda: invoice(currency="XBT", lines=lines)) == expected


BIGGEST_LINE = ("x", 1_000_000, "1000000000.00")  # 10**17 minor units
TOTAL_MESSAGE = (
    "lines add up to more than the maximum invoice total 1000000000000000.00 GBP (including tax)"
)


def test_a_total_of_exactly_the_maximum_is_accepted() -> None:
    assert invoice(tax_rate_bps=0, lines=[BIGGEST_LINE]).lines[0].unit_amount_minor == 10**11


@pytest.mark.parametrize(
    ("bps", "lines"),
    [
        pytest.param(1, [BIGGEST_LINE], id="tax-pushes-it-over"),
        pytest.param(0, [BIGGEST_LINE, ("y", 1, "0.01")], id="one-penny-over"),
        pytest.param(0, [BIGGEST_LINE] * 100, id="absurd"),
    ],
)
def test_totals_above_the_maximum_are_rejected_at_lines(
    bps: int, lines: list[tuple[str, int, str]]
) -> None:
    expected = problem(LINES_FIELD, TOTAL_MESSAGE)
    assert rejected(lambda: invoice(tax_rate_bps=bps, lines=lines)) == expected


# --- all problems at once ---------------------------------------------------------------


def test_every_problem_of_a_payment_is_reported_together() -> None:
    # Given three bad fields / When paying / Then three problems, in input order
    assert rejected(lambda: pay(idempotency_key="", amount=("-5", "GBP"), payment_method="")) == [
        FieldProblem(KEY_MESSAGE, KEY_FIELD),
        FieldProblem(GBP_FORMAT, AMOUNT_FIELD),
        FieldProblem(METHOD_MESSAGE, ("input", "paymentMethod")),
    ]


def test_every_problem_of_a_refund_is_reported_together() -> None:
    assert rejected(lambda: refund(idempotency_key="a b", amount=("0", "JPY"))) == [
        FieldProblem(KEY_MESSAGE, KEY_FIELD),
        FieldProblem("amount must be greater than zero", AMOUNT_FIELD),
    ]


def test_every_problem_of_a_customer_is_reported_together() -> None:
    assert rejected(
        lambda: customer(idempotency_key="ключ", name=" ", email="nobody", phone="12")
    ) == [
        FieldProblem(KEY_MESSAGE, KEY_FIELD),
        FieldProblem("name must not be blank", ("input", "name")),
        FieldProblem(EMAIL_MESSAGE, ("input", "email")),
        FieldProblem(PHONE_MESSAGE, ("input", "phone")),
    ]


def test_every_problem_of_an_invoice_is_reported_together() -> None:
    # Given problems in the header and in several lines, one line with three
    lines = [
        ("", 0, "1.001"),
        LINE,
        ("ok", 2_000_000, "2"),
        BIGGEST_LINE,
        ("x", 1, "0.01"),
    ]
    problems = rejected(
        lambda: invoice(
            idempotency_key="",
            due_date=datetime.date(1999, 1, 1),
            tax_rate_bps=-5,
            lines=lines,
        )
    )
    # Then all of them, and the total of the valid lines alone is already too large
    assert problems == [
        FieldProblem(KEY_MESSAGE, KEY_FIELD),
        FieldProblem(WINDOW_MESSAGE, ("input", "dueDate")),
        FieldProblem("taxRateBps must be between 0 and 10000", ("input", "taxRateBps")),
        FieldProblem("description must be 1 to 500 characters", line_field(0, "description")),
        FieldProblem("quantity must be between 1 and 1000000", line_field(0, "quantity")),
        FieldProblem(
            "unitAmount has more decimals than GBP allows (2)", line_field(0, "unitAmount")
        ),
        FieldProblem("quantity must be between 1 and 1000000", line_field(2, "quantity")),
        FieldProblem(TOTAL_MESSAGE, LINES_FIELD),
    ]


def test_invalid_input_always_carries_a_problem_and_never_echoes_the_value() -> None:
    with pytest.raises(ValueError, match="at least one problem"):
        InvalidInput([])
    secret = "4111111111111111"
    error = rejected(lambda: pay(amount=(secret + "x", "GBP"), payment_method=secret * 5))
    assert secret not in str(InvalidInput(error))
    assert all(secret not in p.message for p in error)


# --- fingerprints -----------------------------------------------------------------------


def test_fingerprints_are_exact_json_without_the_idempotency_key() -> None:
    # Given one valid input per mutation / Then the canonical data, JSON-ready, keyless
    expected: list[tuple[Fingerprinted, dict[str, object]]] = [
        (
            customer(),
            {
                "business_id": "biz_1",
                "name": "Ada Lovelace",
                "email": "ada@example.com",
                "phone": "+44 20 7946 0958",
            },
        ),
        (
            invoice(),
            {
                "business_id": "biz_1",
                "customer_id": "cus_1",
                "currency": "GBP",
                "due_date": "2026-12-31",
                "tax_rate_bps": 2000,
                "lines": [
                    {
                        "description": "Consulting",
                        "quantity": 2,
                        "unit_amount": {"minor": 10000, "currency": "GBP"},
                    }
                ],
            },
        ),
        (parse_finalize_invoice(idempotency_key=KEY, invoice_id="inv_1"), {"invoice_id": "inv_1"}),
        (parse_void_invoice(idempotency_key=KEY, invoice_id="inv_1"), {"invoice_id": "inv_1"}),
        (
            pay(),
            {
                "invoice_id": "inv_1",
                "amount": {"minor": 1250, "currency": "GBP"},
                "payment_method": "pm_card_ok",
            },
        ),
        (
            refund(),
            {
                "payment_id": "pay_1",
                "amount": {"minor": 1250, "currency": "GBP"},
                "reason": "duplicate",
            },
        ),
    ]
    for parsed, data in expected:
        actual = parsed.fingerprint_data()
        assert actual == data
        assert json.loads(json.dumps(actual)) == data
        assert KEY not in json.dumps(actual)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(lambda: pay(), lambda: pay(idempotency_key="other"), id="pay-key"),
        pytest.param(
            lambda: pay(amount=("12.5", "GBP")), lambda: pay(amount=("12.50", "GBP")), id="pay-pad"
        ),
        pytest.param(
            lambda: pay(amount=("12", "GBP")), lambda: pay(amount=("12.00", "GBP")), id="pay-int"
        ),
        pytest.param(
            lambda: refund(amount=("1.5", "KWD")),
            lambda: refund(amount=("1.500", "KWD")),
            id="refund-pad",
        ),
        pytest.param(
            lambda: invoice(lines=[("x", 1, "0")]),
            lambda: invoice(lines=[("x", 1, "0.00")]),
            id="invoice-zero",
        ),
        pytest.param(
            lambda: invoice(tax_rate_bps=None),
            lambda: invoice(tax_rate_bps=0),
            id="invoice-null-tax",
        ),
        pytest.param(lambda: customer(), lambda: customer(idempotency_key="k2"), id="customer-key"),
    ],
)
def test_inputs_that_mean_the_same_have_equal_fingerprints(
    first: Callable[[], Fingerprinted],
    second: Callable[[], Fingerprinted],
) -> None:
    assert first().fingerprint_data() == second().fingerprint_data()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(
            lambda: pay(amount=("12.5", "GBP")), lambda: pay(amount=("12.5", "EUR")), id="currency"
        ),
        pytest.param(
            lambda: pay(amount=("12.5", "GBP")), lambda: pay(amount=("12.05", "GBP")), id="value"
        ),
        pytest.param(lambda: pay(), lambda: pay(amount=None), id="pay-none"),
        pytest.param(lambda: pay(), lambda: pay(invoice_id="inv_2"), id="invoice-id"),
        pytest.param(lambda: pay(), lambda: pay(payment_method="pm_upi_ok"), id="method"),
        pytest.param(lambda: refund(), lambda: refund(reason=None), id="reason"),
        pytest.param(lambda: refund(), lambda: refund(amount=None), id="refund-none"),
        pytest.param(lambda: refund(), lambda: refund(payment_id="pay_2"), id="payment-id"),
        pytest.param(
            lambda: invoice(lines=[LINE, ("y", 1, "1")]),
            lambda: invoice(lines=[("y", 1, "1"), LINE]),
            id="line-order",
        ),
        pytest.param(
            lambda: invoice(lines=[("x", 1, "1")]),
            lambda: invoice(lines=[("x", 1, "1"), ("x", 1, "1")]),
            id="line-count",
        ),
        pytest.param(
            lambda: invoice(lines=[("x", 2, "1")]),
            lambda: invoice(lines=[("x", 1, "2")]),
            id="same-line-total",
        ),
        pytest.param(
            lambda: invoice(lines=[("x", 1, "1")]),
            lambda: invoice(lines=[(" x", 1, "1")]),
            id="description",
        ),
        pytest.param(
            lambda: invoice(currency="GBP"), lambda: invoice(currency="EUR"), id="inv-currency"
        ),
        pytest.param(
            lambda: invoice(due_date=DUE),
            lambda: invoice(due_date=DUE - datetime.timedelta(days=1)),
            id="due",
        ),
        pytest.param(lambda: invoice(), lambda: invoice(tax_rate_bps=0), id="tax"),
        pytest.param(lambda: invoice(), lambda: invoice(customer_id="cus_2"), id="customer"),
        pytest.param(lambda: customer(), lambda: customer(email=None), id="email"),
        pytest.param(lambda: customer(), lambda: customer(phone=None), id="phone"),
        pytest.param(
            lambda: customer(email="ada@example.com"),
            lambda: customer(email="Ada@example.com"),
            id="email-case",
        ),
        pytest.param(lambda: customer(), lambda: customer(name="Ada  Lovelace"), id="name"),
    ],
)
def test_inputs_that_mean_something_else_have_different_fingerprints(
    first: Callable[[], Fingerprinted],
    second: Callable[[], Fingerprinted],
) -> None:
    assert first().fingerprint_data() != second().fingerprint_data()


# --- properties -------------------------------------------------------------------------


@st.composite
def amount_spellings(draw: st.DrawFn) -> tuple[int, str, str]:
    """A valid minor amount and one of its decimal spellings (0..exponent decimals)."""
    currency = draw(st.sampled_from(sorted(EXPONENTS)))
    places = EXPONENTS[currency]
    minor = draw(st.integers(min_value=1, max_value=10**11))
    canonical = to_major_string(minor, currency)
    whole, _, fraction = canonical.partition(".")
    # Fewest decimals that keep the value, up to all the currency allows.
    needed = len(fraction.rstrip("0"))
    decimals = draw(st.integers(min_value=needed, max_value=places))
    text = whole if decimals == 0 else f"{whole}.{fraction[:decimals]}"
    return minor, currency, text


@PROPERTY
@given(amount_spellings())
def test_every_spelling_of_an_amount_parses_to_it_and_fingerprints_alike(
    case: tuple[int, str, str],
) -> None:
    minor, currency, text = case
    canonical = to_major_string(minor, currency)
    # Given any padding variant / When parsed / Then the same minor units and fingerprint
    assert pay(amount=(text, currency)).amount == Money(minor, currency)
    assert (
        pay(amount=(text, currency)).fingerprint_data()
        == pay(amount=(canonical, currency)).fingerprint_data()
    )
    assert (
        invoice(currency=currency, lines=[("x", 1, text)]).fingerprint_data()
        == invoice(currency=currency, lines=[("x", 1, canonical)]).fingerprint_data()
    )


# Every code point, lone surrogates included: they reach Python from JSON "\ud800" escapes.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=300)
CURRENCY_TEXT = st.one_of(st.sampled_from(sorted(EXPONENTS)), ANY_TEXT)


@PROPERTY
@given(key=ANY_TEXT, text=ANY_TEXT, currency=CURRENCY_TEXT, name=ANY_TEXT)
def test_arbitrary_text_only_ever_raises_invalid_input(
    key: str, text: str, currency: str, name: str
) -> None:
    calls: list[Callable[[], object]] = [
        lambda: pay(idempotency_key=key, amount=(text, currency), payment_method=name),
        lambda: refund(idempotency_key=key, amount=(text, currency)),
        lambda: customer(idempotency_key=key, name=name, email=text, phone=text),
        lambda: invoice(idempotency_key=key, currency=currency, lines=[(name, 1, text)]),
        lambda: parse_finalize_invoice(idempotency_key=key, invoice_id=text),
        lambda: parse_void_invoice(idempotency_key=key, invoice_id=text),
    ]
    # InvalidInput itself refuses an empty problem list, so suppressing it loses nothing.
    for call in calls:
        with contextlib.suppress(InvalidInput):
            call()


VISIBLE = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
INVISIBLE = st.characters(exclude_categories=()).filter(lambda c: not "\x21" <= c <= "\x7e")


@PROPERTY
@given(key=st.text(VISIBLE, min_size=1, max_size=255))
def test_any_visible_ascii_key_up_to_255_is_accepted(key: str) -> None:
    assert pay(idempotency_key=key).idempotency_key == key
    assert parse_void_invoice(idempotency_key=key, invoice_id="i").idempotency_key == key


@PROPERTY
@given(
    prefix=st.text(VISIBLE, max_size=127),
    bad=INVISIBLE,
    suffix=st.text(VISIBLE, max_size=127),
)
def test_any_key_with_a_character_outside_visible_ascii_is_rejected(
    prefix: str, bad: str, suffix: str
) -> None:
    key = prefix + bad + suffix
    assert rejected(lambda: pay(idempotency_key=key)) == problem(KEY_FIELD, KEY_MESSAGE)
