"""Payments endpoints: charges, refunds and balances."""

from __future__ import annotations

import sqlite3

from sandbox.common import listing
from sandbox.common.errors import conflict, invalid, missing
from sandbox.common.runtime import Call, Reply
from sandbox.common.store import new_id, now_ts, transaction
from sandbox.common.validation import parse_body
from sandbox.payments.bodies import PaymentCreate, RefundCreate
from sandbox.payments.db import balance_json, payment_json, refund_json
from sandbox.payments.methods import TEST_METHODS

BUSINESS_ID = listing.prefixed_id_re("biz_")
PAYMENT_ID = listing.prefixed_id_re("pay_")
_LISTING_ONLY = ("limit", "starting_after")
_BATCH_ONLY = "applies only to a business_id listing"


class PaymentsHandlers:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def list_payments(self, call: Call) -> Reply:
        request = call.request
        selector = listing.exactly_one(request, ("ids", "invoice_ids", "business_id"))
        if selector == "business_id":
            rows, has_more = listing.page(
                self.conn,
                "payments",
                [("business_id", listing.matching(request, "business_id", BUSINESS_ID))],
                listing.single(request, "starting_after"),
                listing.limit(request),
            )
            return Reply(200, listing.list_envelope([payment_json(r) for r in rows], has_more))
        listing.reject(request, _LISTING_ONLY, _BATCH_ONLY)
        ids = listing.id_list(request, selector) or []
        if selector == "ids":
            rows = listing.in_request_order(listing.by_ids(self.conn, "payments", "id", ids), ids)
        else:
            rows = listing.newest_first(listing.by_ids(self.conn, "payments", "invoice_id", ids))
        return Reply(200, listing.list_envelope([payment_json(r) for r in rows]))

    def get_payment(self, call: Call) -> Reply:
        return Reply(200, payment_json(self._payment(call.path_param("payment_id"))))

    def list_refunds(self, call: Call) -> Reply:
        selector = listing.exactly_one(call.request, ("ids", "payment_ids"))
        ids = listing.id_list(call.request, selector) or []
        if selector == "ids":
            rows = listing.in_request_order(listing.by_ids(self.conn, "refunds", "id", ids), ids)
        else:
            rows = listing.newest_first(listing.by_ids(self.conn, "refunds", "payment_id", ids))
        return Reply(200, listing.list_envelope([refund_json(r) for r in rows]))

    def list_balances(self, call: Call) -> Reply:
        ids = listing.id_list(call.request, "business_ids", required=True) or []
        known = listing.in_request_order(listing.by_ids(self.conn, "businesses", "id", ids), ids)
        data = [balance_json(self.conn, row["id"], row["default_currency"]) for row in known]
        return Reply(200, listing.list_envelope(data))

    def create_payment(self, call: Call) -> Reply:
        body = parse_body(PaymentCreate, call.body)
        method = TEST_METHODS.get(body.payment_method)
        if method is None:
            raise invalid(
                f"Unknown payment method '{body.payment_method}'; test methods: "
                + ", ".join(TEST_METHODS),
                "payment_method",
            )
        if method.only_currency not in (None, body.currency):
            raise invalid(
                f"'{body.payment_method}' accepts only {method.only_currency}", "payment_method"
            )
        payment_id = new_id("pay_")
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO businesses (id) VALUES (?) ON CONFLICT (id) DO NOTHING",
                (body.business_id,),
            )
            self.conn.execute(
                "INSERT INTO payments VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                (
                    payment_id,
                    body.business_id,
                    body.invoice_id,
                    body.amount,
                    body.currency,
                    method.status,
                    method.failure_code,
                    body.payment_method,
                    now_ts(),
                ),
            )
        return Reply(201, payment_json(self._payment(payment_id)))

    def create_refund(self, call: Call) -> Reply:
        body = parse_body(RefundCreate, call.body)
        payment = self._payment(call.path_param("payment_id"))
        if payment["status"] != "succeeded":
            raise conflict(
                "invalid_state",
                f"Only a succeeded payment can be refunded, not {payment['status']}",
            )
        refundable = payment["amount"] - payment["amount_refunded"]
        if body.amount > refundable:
            raise conflict(
                "amount_exceeds_refundable", f"At most {refundable} can be refunded", "amount"
            )
        refund_id = new_id("re_")
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO refunds VALUES (?, ?, ?, ?, ?, 'succeeded', ?, ?)",
                (
                    refund_id,
                    payment["business_id"],
                    payment["id"],
                    body.amount,
                    payment["currency"],
                    body.reason,
                    now_ts(),
                ),
            )
            self.conn.execute(
                "UPDATE payments SET amount_refunded = amount_refunded + ? WHERE id = ?",
                (body.amount, payment["id"]),
            )
        row = self.conn.execute("SELECT * FROM refunds WHERE id = ?", (refund_id,)).fetchone()
        return Reply(201, refund_json(row))

    def _payment(self, payment_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = None
        if PAYMENT_ID.fullmatch(payment_id):
            row = self.conn.execute("SELECT * FROM payments WHERE id = ?", (payment_id,)).fetchone()
        if row is None:
            raise missing("payment", payment_id, "payment_id")
        return row
