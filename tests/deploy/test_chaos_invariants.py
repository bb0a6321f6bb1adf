"""`make chaos`'s invariant checker (deploy/local/chaos/invariants.py): each rule fails on
a ledger that breaks it and holds on one that keeps it. The chaos run itself is behind
`make chaos`; these run in milliseconds."""

from __future__ import annotations

from deploy.local.chaos.invariants import (
    Answer,
    Invoice,
    LbLine,
    Payment,
    Saga,
    Watch,
    balancer_errors,
    double_charges,
    inconsistent_answers,
    lost_events,
    over_collected,
    recorded_once,
    unanswered,
    unfinished,
)


def pay(payment_id: str, key: str, *, final: bool = True, at: float = 1.0) -> Answer:
    return Answer("payInvoice", key, at, final, f"payment={payment_id}", payment_id)


def test_an_invoice_collected_over_its_total_is_found() -> None:
    # Given an invoice of 1000 with two recorded payments of 600
    payments = {p: Payment(p, "inv_1", 600, "succeeded", 0) for p in ("pay_a", "pay_b")}
    invoice = Invoice("inv_1", 1000, 1200, ("pay_a", "pay_b"))
    # When checked / Then the over-collection is named
    assert over_collected([invoice], payments) == [
        "invoice inv_1 collected 1200 over its total 1000"
    ]


def test_an_invoice_whose_paid_amount_disagrees_with_its_payments_is_found() -> None:
    payments = {"pay_a": Payment("pay_a", "inv_1", 300, "succeeded", 0)}
    found = over_collected([Invoice("inv_1", 1000, 500, ("pay_a",))], payments)
    assert found == ["invoice inv_1 says 500 paid, its recorded payments sum to 300"]


def test_an_invoice_paid_within_its_total_holds() -> None:
    payments = {"pay_a": Payment("pay_a", "inv_1", 1000, "succeeded", 0)}
    assert over_collected([Invoice("inv_1", 1000, 1000, ("pay_a",))], payments) == []


def test_a_succeeded_payment_on_no_invoice_and_not_refunded_is_found() -> None:
    # Given a charge that succeeded but was never recorded, nor compensated
    payments = {"pay_a": Payment("pay_a", "inv_1", 500, "succeeded", 0)}
    found = recorded_once([Invoice("inv_1", 1000, 0, ())], payments, ["pay_a"])
    assert found == [
        "succeeded payment pay_a (500) is on no invoice and was not refunded in full (0)"
    ]


def test_a_compensated_payment_refunded_in_full_may_stay_unrecorded() -> None:
    payments = {"pay_a": Payment("pay_a", "inv_1", 500, "succeeded", 500)}
    assert recorded_once([Invoice("inv_1", 1000, 0, ())], payments, ["pay_a"]) == []


def test_a_payment_recorded_twice_or_on_another_invoice_is_found() -> None:
    payments = {
        "pay_a": Payment("pay_a", "inv_1", 100, "succeeded", 0),
        "pay_b": Payment("pay_b", "inv_1", 100, "succeeded", 0),
    }
    invoices = [
        Invoice("inv_1", 1000, 100, ("pay_a",)),
        Invoice("inv_2", 1000, 200, ("pay_a", "pay_b")),
    ]
    assert recorded_once(invoices, payments, ["pay_a", "pay_b"]) == [
        "payment pay_a recorded 2 times: ['inv_1', 'inv_2']",
        "payment pay_b recorded on inv_2, not its invoice",
    ]


def test_a_pending_or_failed_payment_recorded_is_found() -> None:
    payments = {"pay_a": Payment("pay_a", "inv_1", 100, "pending", 0)}
    found = recorded_once([Invoice("inv_1", 1000, 100, ("pay_a",))], payments, ["pay_a"])
    assert found == ["pending payment pay_a recorded on ['inv_1']"]


def test_a_key_charged_twice_is_a_double_charge() -> None:
    # Given one key whose first attempt's answer was lost, and a retry that charged again
    payments = {p: Payment(p, "inv_1", 100, "succeeded", 0) for p in ("pay_a", "pay_b")}
    sagas = [Saga("key-1", "completed", 5.0, "pay_a")]
    answers = [pay("pay_b", "key-1")]
    # When checked / Then both charges are the key's, and that is one too many
    found = double_charges(payments, ["pay_a", "pay_b"], answers, sagas)
    assert found == ["key key-1 charged 2 times: ['pay_a', 'pay_b']"]


def test_a_charge_no_key_accounts_for_is_found_unless_refunded() -> None:
    payments = {
        "pay_lost": Payment("pay_lost", "inv_1", 100, "succeeded", 0),
        "pay_back": Payment("pay_back", "inv_1", 100, "succeeded", 100),
    }
    found = double_charges(payments, ["pay_lost", "pay_back"], [], [])
    assert found == ["payment pay_lost was charged for no key (a lost charge)"]


def test_one_charge_per_key_holds_and_failed_charges_do_not_count() -> None:
    payments = {
        "pay_a": Payment("pay_a", "inv_1", 100, "succeeded", 0),
        "pay_b": Payment("pay_b", "inv_1", 100, "failed", 0),
    }
    answers = [pay("pay_a", "key-1"), pay("pay_a", "key-1"), pay("pay_b", "key-2")]
    assert double_charges(payments, ["pay_a", "pay_b"], answers, []) == []


def test_a_charge_answered_to_two_keys_is_found() -> None:
    payments = {"pay_a": Payment("pay_a", "inv_1", 100, "succeeded", 0)}
    found = double_charges(payments, ["pay_a"], [pay("pay_a", "k1"), pay("pay_a", "k2")], [])
    assert found == ["payment pay_a answered to several keys: ['k1', 'k2']"]


def test_a_key_answered_two_ways_is_inconsistent_but_transient_answers_do_not_count() -> None:
    # Given a key first told "unknown, retry", then pay_a, then (wrongly) pay_b
    answers = [
        Answer("payInvoice", "k1", 1.0, False, "codes=['DOWNSTREAM_UNAVAILABLE']"),
        pay("pay_a", "k1", at=2.0),
        pay("pay_b", "k1", at=3.0),
        pay("pay_c", "k2"),
        pay("pay_c", "k2"),
    ]
    assert inconsistent_answers(answers) == [
        "payInvoice key k1 answered 2 ways: ['payment=pay_a', 'payment=pay_b']"
    ]


def test_a_key_that_never_got_a_final_answer_is_found() -> None:
    answers = [
        Answer("refundPayment", "k1", 1.0, False, "http 502"),
        Answer("payInvoice", "k2", 1.0, False, "http 0"),
        pay("pay_a", "k2"),
    ]
    assert unanswered(answers) == ["refundPayment key k1 never got a final answer"]


def test_an_event_recorded_but_never_consumed_is_lost() -> None:
    assert lost_events(["e1", "e2"], ["e1", "e1"]) == [
        "1 recorded event(s) never reached RabbitMQ, e.g. ['e2']"
    ]
    assert lost_events(["e1"], ["e1", "e1"]) == []


def test_a_saga_in_progress_past_its_bound_a_watch_or_outbox_step_left_is_found() -> None:
    sagas = [
        Saga("fresh", "in_progress", 10.0),
        Saga("stuck", "in_progress", 90.0),
        Saga("old-but-done", "completed", 900.0),
    ]
    found = unfinished(sagas, [Watch("pay_a", "pending"), Watch("pay_b", "done")], 2, 60.0)
    assert found == [
        "saga stuck still in_progress after 90s (bound 60s)",
        "payment pay_a still watched (pending) after it settled",
        "2 outbox step(s) never done",
    ]
    assert unfinished(sagas[:1], [], 0, 60.0) == []


def test_a_5xx_is_allowed_only_while_no_gateway_was_up() -> None:
    lines = [
        LbLine(10.0, 200, "gateway-1"),
        LbLine(20.0, 503, "<NOSRV>"),  # the balancer had none to send to
        LbLine(30.0, 503, "gateway-2"),  # inside a window the stats showed none UP
        LbLine(40.0, 502, "gateway-3"),  # a gateway was up: not allowed
    ]
    found = balancer_errors(lines, [(29.0, 31.0)])
    assert found == ["1 5xx answer(s) while a gateway was up: 502 from gateway-3 at 40.0s"]
    assert balancer_errors(lines[:3], [(29.0, 31.0)]) == []
