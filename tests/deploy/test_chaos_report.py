"""`make chaos`'s report writer, its reading of answers and of HAProxy's log, without a
run: what a client's answer counts as, what the report says, and what the balancer's log
lines mean."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from deploy.local.chaos import report, state
from deploy.local.chaos.faults import Mark
from deploy.local.chaos.workload import Sample, classify

STARTED = time.mktime((2026, 12, 3, 16, 0, 0, 0, 0, -1))


def _pay_body(
    codes: list[str], payment: dict[str, str] | None, replayed: bool = False
) -> dict[str, Any]:
    errors = [{"code": code} for code in codes]
    data = {"payInvoice": {"payment": payment, "userErrors": errors, "replayed": replayed}}
    return {"data": data}


def test_a_payment_answer_is_final_and_names_its_payment() -> None:
    body = _pay_body([], {"id": "pay_1", "status": "SUCCEEDED"})
    answer = classify("payInvoice", "k1", 1.0, 200, body)
    assert (answer.final, answer.payment_id, answer.codes) == (True, "pay_1", ())


@pytest.mark.parametrize("code", ["DOWNSTREAM_UNAVAILABLE", "IDEMPOTENCY_KEY_IN_USE"])
def test_a_retry_later_answer_is_not_final_unless_it_is_a_replay(code: str) -> None:
    assert not classify("payInvoice", "k1", 1.0, 200, _pay_body([code], None)).final
    assert classify("payInvoice", "k1", 1.0, 200, _pay_body([code], None, replayed=True)).final


def test_no_answer_or_a_5xx_is_not_final() -> None:
    answer = classify("refundPayment", "k1", 1.0, 503, None)
    assert (answer.final, answer.codes) == (False, ("http 503",))


def test_a_refusal_is_a_final_answer_of_its_codes() -> None:
    answer = classify("payInvoice", "k1", 1.0, 200, _pay_body(["INVALID_STATE"], None))
    assert answer.final
    assert answer.signature == "payment=None refund=None invoice=None codes=['INVALID_STATE']"


def test_percentiles_are_nearest_rank() -> None:
    assert report.percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert report.percentile([1.0, 2.0], 99) == 2.0
    assert math.isnan(report.percentile([], 50))


def _samples() -> list[Sample]:
    return [
        Sample(0.5, "read", 10.0, False, 200),
        Sample(1.0, "read", 30.0, True, 0),
        Sample(2.5, "payInvoice", 50.0, False, 200, busy=True),
    ]


def test_the_timeline_buckets_latency_errors_and_busy_answers() -> None:
    rows = report.timeline(_samples(), bucket=2.0)
    assert [(r["at"], r["requests"], r["error_rate"], r["busy_rate"]) for r in rows] == [
        (0.0, 2, 0.5, 0.0),
        (2.0, 1, 0.0, 1.0),
    ]


def test_a_report_passes_only_when_every_invariant_held(tmp_path: Path) -> None:
    # Given a run with one broken invariant
    findings = {"no event lost": [], "no double charge": ["key k1 charged 2 times"]}
    marks = [Mark("Redis down 30 s", 10.0, 40.0)]
    summary = report.summarize(_samples(), marks, findings, {"machine": "2 cores"})
    # When written (no picture: matplotlib is the bench extra's)
    report.write(summary, tmp_path, png=False)
    # Then it fails, and says which invariant and why, in both forms
    written = json.loads((tmp_path / "chaos.json").read_text())
    assert written["passed"] is False
    assert written["invariants"]["no double charge"]["findings"] == ["key k1 charged 2 times"]
    assert written["operations"]["read"] == {
        "requests": 2,
        "errors": 1,
        "busy": 0,
        "p50_ms": 10.0,
        "p95_ms": 30.0,
        "p99_ms": 30.0,
    }
    text = (tmp_path / "chaos.md").read_text()
    assert text.startswith("# Chaos run: FAILED")
    assert "| no double charge | **no** | key k1 charged 2 times |" in text
    assert "| Redis down 30 s | 10.0 | 40.0 |" in text
    assert not (tmp_path / "chaos.png").exists()


def test_a_report_with_every_invariant_held_passes() -> None:
    summary = report.summarize(_samples(), [], {"no event lost": []}, {})
    assert summary["passed"] is True
    assert report.markdown(summary).startswith("# Chaos run: PASSED")


LOG = """\
127.0.0.1:5 [03/Dec/2026:16:00:01.500] stats stats/<STATS> 0/0/0/0/0 200 10 - - LR-- 1/1/0/0/0 0/0 "GET /;csv HTTP/1.1"
127.0.0.1:6 [03/Dec/2026:16:00:02.250] gateway gateways/gateway-1 0/0/0/5/5 200 10 - - ---- 1/1/0/0/0 0/0 {r1} "POST /graphql HTTP/1.1"
127.0.0.1:7 [03/Dec/2026:16:00:03.000] gateway gateways/gateway-3 0/0/0/5/5 200 10 - - ---- 11/11/7/3/+1 0/0 {r2} "POST /graphql HTTP/1.1"
127.0.0.1:8 [03/Dec/2026:16:00:04.000] gateway gateways/<NOSRV> 0/-1/-1/-1/0 503 217 - - SC-- 1/1/0/0/0 0/0 {} "POST /graphql HTTP/1.1"
[WARNING]  (13828) : Server gateways/gateway-2 is DOWN, reason: Layer4 connection problem
"""  # noqa: E501 - HAProxy's lines as it writes them


def test_the_balancers_log_gives_each_gateway_request_its_time_server_and_status(
    tmp_path: Path,
) -> None:
    log = tmp_path / "haproxy.log"
    log.write_text(LOG)
    lines = state.balancer_log(log, STARTED)
    assert [(line.at, line.server, line.status) for line in lines] == [
        (2.25, "gateway-1", 200),
        (3.0, "gateway-3", 200),
        (4.0, "<NOSRV>", 503),
    ]
    assert state.resent(log) == 1


def test_the_sandboxes_state_is_read_from_their_databases(tmp_path: Path) -> None:
    invoicing, payments = tmp_path / "invoicing.db", tmp_path / "payments.db"
    with sqlite3.connect(invoicing) as db:
        db.execute("CREATE TABLE invoices (id TEXT, total TEXT, amount_paid TEXT)")
        db.execute("CREATE TABLE invoice_payments (seq INTEGER, payment_id TEXT, invoice_id TEXT)")
        db.execute("INSERT INTO invoices VALUES ('inv_1', '1000', '300')")
        db.execute("INSERT INTO invoice_payments VALUES (1, 'pay_new', 'inv_1')")
    with sqlite3.connect(payments) as db:
        db.execute(
            "CREATE TABLE payments (id TEXT, invoice_id TEXT, amount INTEGER, status TEXT,"
            " amount_refunded INTEGER)"
        )
        db.execute("INSERT INTO payments VALUES ('pay_new', 'inv_1', 300, 'pending', 0)")
    (invoice,) = state.invoices(invoicing)
    assert (invoice.total, invoice.amount_paid, invoice.payment_ids) == (1000, 300, ("pay_new",))
    assert state.payments(payments)["pay_new"].status == "pending"
    assert state.pending_run_payments(payments) == ["pay_new"]
