"""The pure comparison: each kind of drift, and what is not drift."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from app.downstream.models import Invoice, Payment
from app.reconcile.drift import Books, Finding, compare, counts
from tests.reconcile.books import BUSINESS, NOW, invoice, payment

LIMIT = timedelta(days=5)


def drift(
    payments: list[Payment], invoices: list[Invoice], watched: dict[str, str] | None = None
) -> list[Finding]:
    return compare(Books(BUSINESS, payments, invoices, watched or {}), now=NOW, pending_limit=LIMIT)


def finding(**fields: object) -> Finding:
    """A finding with the fields a test does not name at their usual values."""
    values: dict[str, object] = {
        "business_id": BUSINESS,
        "payment_id": None,
        "amount": None,
        "currency": "GBP",
        "payment_status": None,
        "owned": False,
        "watch_state": None,
        "invoice_total": None,
        "invoice_amount_paid": None,
        "collected": None,
        "age_seconds": None,
    }
    return Finding(**{**values, **fields})  # type: ignore[arg-type]


# -- succeeded_unrecorded ---------------------------------------------------------------


def test_a_succeeded_payment_the_invoice_does_not_list_is_reported_net_of_refunds() -> None:
    # given an invoice listing one of its two succeeded payments, the other partly refunded
    books = [invoice("inv_A", 10_000, paid=4_000, payment_ids=["pay_1"])]
    payments = [payment("pay_1", "inv_A", 4_000), payment("pay_2", "inv_A", 3_000, refunded=1_000)]

    # when compared
    found = drift(payments, books)

    # then the unlisted one is reported for what is left of it
    assert found == [
        finding(
            kind="succeeded_unrecorded",
            invoice_id="inv_A",
            payment_id="pay_2",
            amount=2_000,
            payment_status="succeeded",
            invoice_total=10_000,
            invoice_amount_paid=4_000,
            note="succeeded, not in the invoice's payment_ids",
        )
    ]


def test_the_finding_says_when_the_gateway_owns_the_payment() -> None:
    books = [invoice("inv_A", 10_000)]
    payments = [payment("pay_1", "inv_A", 10_000)]

    (found,) = drift(payments, books, watched={"pay_1": "recording"})

    assert (found.kind, found.owned, found.watch_state) == (
        "succeeded_unrecorded",
        True,
        "recording",
    )


def test_a_succeeded_payment_whose_invoice_is_unknown_is_unrecorded() -> None:
    found = drift([payment("pay_1", "inv_Gone", 2_500)], [])

    assert found == [
        finding(
            kind="succeeded_unrecorded",
            invoice_id="inv_Gone",
            payment_id="pay_1",
            amount=2_500,
            payment_status="succeeded",
            note="succeeded; its invoice is unknown to the invoicing service",
        )
    ]


def test_an_invoice_without_payment_ids_is_compared_by_totals() -> None:
    # given an invoice with 4,000 paid that does not list its payments, and 7,000 that
    # succeeded against it, besides a compensation refunded in full
    books = [invoice("inv_A", 10_000, paid=4_000)]
    payments = [
        payment("pay_1", "inv_A", 4_000),
        payment("pay_2", "inv_A", 3_000),
        payment("pay_3", "inv_A", 2_000, refunded=2_000),
    ]

    # then what succeeded beyond amount_paid is reported against the invoice
    assert drift(payments, books) == [
        finding(
            kind="succeeded_unrecorded",
            invoice_id="inv_A",
            amount=3_000,
            invoice_total=10_000,
            invoice_amount_paid=4_000,
            note="the invoice lists no payment_ids: succeeded payments exceed amount_paid "
            "by at least this",
        )
    ]


# -- recorded_not_succeeded -----------------------------------------------------------------


def test_recorded_payments_that_did_not_succeed_or_are_unknown_are_reported() -> None:
    # given an invoice listing a succeeded, a pending, a failed and an unknown payment
    books = [invoice("inv_A", 10_000, paid=4_000, payment_ids=["pay_1", "pay_2", "pay_3", "pay_4"])]
    payments = [
        payment("pay_1", "inv_A", 1_000),
        payment("pay_2", "inv_A", 1_000, status="pending"),
        payment("pay_3", "inv_A", 1_000, status="failed"),
    ]

    found = drift(payments, books, watched={"pay_2": "pending"})

    assert found == [
        finding(
            kind="recorded_not_succeeded",
            invoice_id="inv_A",
            payment_id=payment_id,
            amount=amount,
            payment_status=status,
            owned=payment_id == "pay_2",
            watch_state="pending" if payment_id == "pay_2" else None,
            invoice_total=10_000,
            invoice_amount_paid=4_000,
            note=note,
        )
        for payment_id, amount, status, note in (
            ("pay_2", 1_000, "pending", "recorded on the invoice, but pending"),
            ("pay_3", 1_000, "failed", "recorded on the invoice, but failed"),
            ("pay_4", None, "unknown", "recorded on the invoice, unknown to the payments service"),
        )
    ]


# -- over_collected ---------------------------------------------------------------------


def test_succeeded_payments_beyond_the_total_are_over_collected() -> None:
    # given a paid invoice and another payment that succeeded against it, partly refunded
    books = [invoice("inv_A", 5_000, paid=5_000, payment_ids=["pay_1"], status="paid")]
    payments = [payment("pay_1", "inv_A", 5_000), payment("pay_2", "inv_A", 3_000, refunded=500)]

    found = drift(payments, books)

    # then the invoice is over-collected by what is kept beyond the total (and the extra
    # payment is also not recorded)
    assert [(f.kind, f.payment_id, f.amount, f.collected) for f in found] == [
        ("succeeded_unrecorded", "pay_2", 2_500, None),
        ("over_collected", None, 2_500, 7_500),
    ]
    assert found[1] == finding(
        kind="over_collected",
        invoice_id="inv_A",
        amount=2_500,
        invoice_total=5_000,
        invoice_amount_paid=5_000,
        collected=7_500,
        note="succeeded payments, net of refunds, exceed the invoice's total by this",
    )


# -- pending_too_long -----------------------------------------------------------------------


def test_a_payment_pending_past_the_alert_age_is_reported() -> None:
    books = [invoice("inv_A", 10_000)]
    payments = [
        payment("pay_old", "inv_A", 4_000, status="pending", created_at="2026-11-20T12:00:00Z"),
        # exactly at the limit: not yet
        payment("pay_edge", "inv_A", 1_000, status="pending", created_at="2026-11-28T12:00:00Z"),
        payment("pay_new", "inv_A", 1_000, status="pending"),
    ]

    assert drift(payments, books, watched={"pay_old": "pending"}) == [
        finding(
            kind="pending_too_long",
            invoice_id="inv_A",
            payment_id="pay_old",
            amount=4_000,
            payment_status="pending",
            owned=True,
            watch_state="pending",
            invoice_total=10_000,
            invoice_amount_paid=0,
            age_seconds=13 * 86_400,
            note="pending for 13 days",
        )
    ]


# -- not drift --------------------------------------------------------------------------------


def test_a_recorded_succeeded_payment_is_not_drift() -> None:
    books = [invoice("inv_A", 10_000, paid=10_000, payment_ids=["pay_1"], status="paid")]
    assert drift([payment("pay_1", "inv_A", 10_000)], books) == []


def test_a_failed_payment_left_unrecorded_is_not_drift() -> None:
    books = [invoice("inv_A", 10_000)]
    assert drift([payment("pay_1", "inv_A", 10_000, status="failed")], books) == []


def test_a_fully_refunded_compensation_left_unrecorded_is_not_drift() -> None:
    # (the saga refunds a charge the invoice would not take; it is never recorded)
    books = [invoice("inv_A", 10_000, status="void")]
    assert drift([payment("pay_1", "inv_A", 10_000, refunded=10_000)], books) == []


def test_a_payment_in_another_currency_does_not_count_against_the_invoice() -> None:
    books = [invoice("inv_A", 1_000, paid=1_000, payment_ids=["pay_1"], status="paid")]
    payments = [payment("pay_1", "inv_A", 1_000), payment("pay_2", "inv_A", 9_000, currency="EUR")]
    assert drift(payments, books) == []


def test_an_invoice_without_payment_ids_whose_totals_agree_is_not_drift() -> None:
    # given amount_paid equal to what succeeded (a recorded payment later refunded in
    # full still counts in amount_paid), and an unrecorded compensation refunded in full
    books = [invoice("inv_A", 10_000, paid=6_000)]
    payments = [
        payment("pay_1", "inv_A", 6_000),
        payment("pay_2", "inv_A", 2_000, refunded=2_000),
        payment("pay_3", "inv_A", 1_000, status="pending"),
    ]
    assert drift(payments, books) == []


def test_another_business_objects_are_not_this_business_drift() -> None:
    # given a listing that also holds another business's unrecorded payment and invoice
    books = [invoice("inv_B", 1_000, payment_ids=["pay_X"], business_id="biz_Other")]
    payments = [payment("pay_B", "inv_B", 5_000, business_id="biz_Other")]
    assert drift(payments, books) == []


def test_counts_name_every_kind() -> None:
    assert counts([]) == {
        "succeeded_unrecorded": 0,
        "recorded_not_succeeded": 0,
        "over_collected": 0,
        "pending_too_long": 0,
    }


# -- properties -------------------------------------------------------------------------------

AMOUNTS = st.integers(min_value=1, max_value=10**12)
SPECS = st.lists(
    st.tuples(AMOUNTS, st.sampled_from(["succeeded", "pending", "failed"]), st.fractions(0, 1)),
    max_size=8,
)


def _payments(specs: list[tuple[int, str, Fraction]]) -> list[Payment]:
    built = []
    for n, (amount, status, share) in enumerate(specs):
        refunded = int(amount * share) if status == "succeeded" else 0
        built.append(payment(f"pay_{n}", "inv_A", amount, status=status, refunded=refunded))
    return built


@given(specs=SPECS, headroom=st.integers(min_value=0, max_value=10**12), listed=st.booleans())
def test_an_invoice_listing_exactly_its_succeeded_payments_shows_no_drift(
    specs: list[tuple[int, str, Fraction]], headroom: int, listed: bool
) -> None:
    # given an invoice whose payment_ids are exactly its succeeded payments, whose
    # amount_paid is their sum, within its total; pending ones are recent
    payments = _payments(specs)
    succeeded = [p for p in payments if p.status == "succeeded"]
    paid = sum(p.amount for p in succeeded)
    ids = [p.id for p in succeeded]
    books = [invoice("inv_A", paid + headroom, paid=paid, payment_ids=ids if listed else None)]

    # then there is no drift, whether or not the list is sent
    assert drift(payments, books) == []


@given(specs=SPECS, left_off=st.sets(st.integers(min_value=0, max_value=7)))
def test_each_succeeded_payment_left_off_the_list_is_reported_once_for_its_net(
    specs: list[tuple[int, str, Fraction]], left_off: set[int]
) -> None:
    # given an invoice that lists its succeeded payments but some, plus one always listed
    payments = [*_payments(specs), payment("pay_listed", "inv_A", 1)]
    succeeded = [p for p in payments if p.status == "succeeded"]
    unlisted = [p for n, p in enumerate(succeeded[:-1]) if n in left_off]
    listed = [p for p in succeeded if p not in unlisted]
    total = sum(p.amount for p in succeeded)
    books = [
        invoice(
            "inv_A",
            total,
            paid=sum(p.amount for p in listed),
            payment_ids=[p.id for p in listed],
        )
    ]

    # then exactly those with something left after refunds are reported, for that
    found = drift(payments, books)
    assert [(f.kind, f.payment_id, f.amount) for f in found] == [
        ("succeeded_unrecorded", p.id, p.amount - p.amount_refunded)
        for p in sorted(unlisted, key=lambda p: p.id)
        if p.amount > p.amount_refunded
    ]
