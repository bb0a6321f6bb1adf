"""The table people read and the JSON programs read, whole."""

from __future__ import annotations

import json

from app.reconcile.drift import Books, compare
from app.reconcile.report import to_json, to_table
from app.reconcile.runner import BusinessResult, Reconciliation, Repair
from tests.reconcile.books import BUSINESS, NOW, invoice, payment
from tests.reconcile.test_drift import LIMIT


def example() -> Reconciliation:
    books = Books(
        BUSINESS,
        [
            payment("pay_1", "inv_A", 123_456),
            payment("pay_2", "inv_B", 500, status="pending", created_at="2026-11-01T12:00:00Z"),
        ],
        [invoice("inv_A", 100_000, status="open"), invoice("inv_B", 900, payment_ids=["pay_3"])],
        {"pay_1": "pending"},
    )
    findings = compare(books, now=NOW, pending_limit=LIMIT)
    return Reconciliation(
        [
            BusinessResult(BUSINESS, findings),
            BusinessResult("biz_KWdemo", [], ["payments: stopped after 2 pages (the page cap)"]),
        ],
        [Repair(BUSINESS, "inv_C", "pay_7", 2_000, "GBP", "recorded")],
    )


def test_the_table_aligns_its_columns_and_sums_up() -> None:
    assert to_table(example()) == (
        "reconciled 2 businesses: biz_GBdemo, biz_KWdemo\n"
        "\n"
        "repaired (payments the gateway took, moved on by the settler's step):\n"
        "BUSINESS    INVOICE  PAYMENT  AMOUNT  CURRENCY  OUTCOME\n"
        "biz_GBdemo  inv_C    pay_7     20.00  GBP       recorded\n"
        "\n"
        "KIND                    BUSINESS    INVOICE  PAYMENT   AMOUNT  CURRENCY  OWNED"
        "          NOTE\n"
        "succeeded_unrecorded    biz_GBdemo  inv_A    pay_1    1234.56  GBP       yes (pending)"
        "  succeeded, not in the invoice's payment_ids\n"
        "recorded_not_succeeded  biz_GBdemo  inv_B    pay_3          -  GBP       no"
        "             recorded on the invoice, unknown to the payments service\n"
        "over_collected          biz_GBdemo  inv_A    -         234.56  GBP       -"
        "              succeeded payments, net of refunds, exceed the invoice's total by this\n"
        "pending_too_long        biz_GBdemo  inv_B    pay_2       5.00  GBP       no"
        "             pending for 32 days\n"
        "\n"
        "not read in full:\n"
        "  biz_KWdemo: payments: stopped after 2 pages (the page cap)\n"
        "\n"
        "drift: 4 findings (succeeded_unrecorded 1, recorded_not_succeeded 1, over_collected 1,"
        " pending_too_long 1)\n"
    )


def test_no_drift_is_one_line() -> None:
    assert to_table(Reconciliation([BusinessResult(BUSINESS, [])])) == (
        "reconciled 1 business: biz_GBdemo\n\nno drift\n"
    )


def test_the_json_has_every_key_and_integer_amounts() -> None:
    document = json.loads(to_json(example()))

    assert list(document) == ["businesses", "drift", "counts", "findings", "repairs", "incomplete"]
    assert document["businesses"] == [BUSINESS, "biz_KWdemo"]
    assert document["drift"] is True
    assert document["counts"] == {
        "succeeded_unrecorded": 1,
        "recorded_not_succeeded": 1,
        "over_collected": 1,
        "pending_too_long": 1,
    }
    assert document["findings"][0] == {
        "kind": "succeeded_unrecorded",
        "business_id": BUSINESS,
        "invoice_id": "inv_A",
        "payment_id": "pay_1",
        "amount": 123_456,
        "currency": "GBP",
        "payment_status": "succeeded",
        "owned": True,
        "watch_state": "pending",
        "invoice_total": 100_000,
        "invoice_amount_paid": 0,
        "collected": None,
        "age_seconds": None,
        "note": "succeeded, not in the invoice's payment_ids",
    }
    assert [f["amount"] for f in document["findings"]] == [123_456, None, 23_456, 500]
    assert all(list(f) == list(document["findings"][0]) for f in document["findings"])
    assert document["findings"][3]["age_seconds"] == 32 * 86_400
    assert document["repairs"] == [
        {
            "business_id": BUSINESS,
            "invoice_id": "inv_C",
            "payment_id": "pay_7",
            "amount": 2_000,
            "currency": "GBP",
            "outcome": "recorded",
        }
    ]
    assert document["incomplete"] == [
        {"business_id": "biz_KWdemo", "reason": "payments: stopped after 2 pages (the page cap)"}
    ]
