"""Invoicing endpoints: businesses, customers, invoices and their state changes."""

from __future__ import annotations

import sqlite3
from typing import Any

from sandbox.common import listing
from sandbox.common.errors import conflict, missing
from sandbox.common.money import invoice_totals
from sandbox.common.runtime import Call, Reply
from sandbox.common.store import new_id, now_after, now_ts, transaction
from sandbox.common.validation import parse_body
from sandbox.invoicing.bodies import CustomerCreate, InvoiceCreate, InvoicePaymentRecord
from sandbox.invoicing.db import (
    business_json,
    customer_json,
    invoice_json,
    invoices_json,
    lines_json,
    payment_ids_of,
)

BUSINESS_ID = listing.prefixed_id_re("biz_")
CUSTOMER_ID = listing.prefixed_id_re("cus_")
INVOICE_ID = listing.prefixed_id_re("inv_")
STATUSES = ("draft", "open", "paid", "void")
_LISTING_ONLY = ("limit", "starting_after")


class InvoicingHandlers:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # -- reads ---------------------------------------------------------------------------

    def list_businesses(self, call: Call) -> Reply:
        ids = listing.id_list(call.request, "ids", required=True) or []
        rows = listing.by_ids(self.conn, "businesses", "id", ids)
        data = [business_json(r) for r in listing.in_request_order(rows, ids)]
        return Reply(200, listing.list_envelope(data))

    def list_customers(self, call: Call) -> Reply:
        request = call.request
        if listing.exactly_one(request, ("ids", "business_id")) == "ids":
            listing.reject(request, _LISTING_ONLY, "applies only to a business_id listing")
            ids = listing.id_list(request, "ids") or []
            rows = listing.by_ids(self.conn, "customers", "id", ids)
            data = [customer_json(r) for r in listing.in_request_order(rows, ids)]
            return Reply(200, listing.list_envelope(data))
        business_id = listing.matching(request, "business_id", BUSINESS_ID)
        rows, has_more = listing.page(
            self.conn,
            "customers",
            [("business_id", business_id)],
            listing.single(request, "starting_after"),
            listing.limit(request),
        )
        return Reply(200, listing.list_envelope([customer_json(r) for r in rows], has_more))

    def list_invoices(self, call: Call) -> Reply:
        request = call.request
        if listing.exactly_one(request, ("ids", "business_id")) == "ids":
            listing.reject(
                request,
                ("status", "customer_id", *_LISTING_ONLY),
                "applies only to a business_id listing",
            )
            ids = listing.id_list(request, "ids") or []
            rows = listing.by_ids(self.conn, "invoices", "id", ids)
            ordered = listing.in_request_order(rows, ids)
            return Reply(200, listing.list_envelope(invoices_json(self.conn, ordered)))
        filters: list[tuple[str, object]] = [
            ("business_id", listing.matching(request, "business_id", BUSINESS_ID))
        ]
        status = listing.choice(request, "status", STATUSES)
        if status is not None:
            filters.append(("status", status))
        customer_id = listing.matching(request, "customer_id", CUSTOMER_ID)
        if customer_id is not None:
            filters.append(("customer_id", customer_id))
        rows, has_more = listing.page(
            self.conn,
            "invoices",
            filters,
            listing.single(request, "starting_after"),
            listing.limit(request),
        )
        return Reply(200, listing.list_envelope(invoices_json(self.conn, rows), has_more))

    def get_invoice(self, call: Call) -> Reply:
        return Reply(200, self._invoice_json(self._invoice(call.path_param("invoice_id"))))

    # -- writes --------------------------------------------------------------------------

    def create_customer(self, call: Call) -> Reply:
        body = parse_body(CustomerCreate, call.body)
        self._business(body.business_id)
        customer_id = new_id("cus_")
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?)",
                (customer_id, body.business_id, body.name, body.email, body.phone, now_ts()),
            )
        row = self.conn.execute("SELECT * FROM customers WHERE id = ?", (customer_id,)).fetchone()
        return Reply(201, customer_json(row))

    def create_invoice(self, call: Call) -> Reply:
        body = parse_body(InvoiceCreate, call.body)
        business = self._business(body.business_id)
        customer = self.conn.execute(
            "SELECT business_id FROM customers WHERE id = ?", (body.customer_id,)
        ).fetchone()
        if customer is None:
            raise missing("customer", body.customer_id, "customer_id")
        if customer["business_id"] != business["id"]:
            raise conflict(
                "customer_business_mismatch",
                "The customer belongs to another business",
                "customer_id",
            )
        raw = [(ln.description, ln.quantity, ln.unit_amount) for ln in body.lines]
        totals = invoice_totals([(q, u) for _, q, u in raw], body.tax_rate_bps)
        invoice_id, now = new_id("inv_"), now_ts()
        with transaction(self.conn):
            number = self.conn.execute(
                "UPDATE businesses SET next_number = next_number + 1 WHERE id = ? "
                "RETURNING next_number - 1 AS number",
                (business["id"],),
            ).fetchone()["number"]
            self.conn.execute(
                "INSERT INTO invoices VALUES (?, ?, ?, ?, 'draft', ?, ?, ?, ?, ?, ?, '0', ?, ?, ?)",
                (
                    invoice_id,
                    business["id"],
                    body.customer_id,
                    f"INV-{number:06d}",
                    body.currency,
                    lines_json(raw),
                    body.tax_rate_bps,
                    str(totals.subtotal),
                    str(totals.tax),
                    str(totals.total),
                    body.due_date.isoformat(),
                    now,
                    now,
                ),
            )
        return Reply(201, self._invoice_json(self._invoice(invoice_id)))

    def finalize_invoice(self, call: Call) -> Reply:
        invoice = self._invoice(call.path_param("invoice_id"))
        if invoice["status"] != "draft":
            raise conflict(
                "invalid_state", f"Only a draft invoice can be finalized, not {invoice['status']}"
            )
        return Reply(200, self._update(invoice, "status = 'open'"))

    def void_invoice(self, call: Call) -> Reply:
        invoice = self._invoice(call.path_param("invoice_id"))
        if invoice["status"] not in ("draft", "open") or int(invoice["amount_paid"]) != 0:
            raise conflict(
                "invalid_state",
                "Only a draft or open invoice with no recorded payment can be voided",
            )
        return Reply(200, self._update(invoice, "status = 'void'"))

    def record_payment(self, call: Call) -> Reply:
        body = parse_body(InvoicePaymentRecord, call.body)
        invoice = self._invoice(call.path_param("invoice_id"))
        recorded = self.conn.execute(
            "SELECT invoice_id FROM invoice_payments WHERE payment_id = ?", (body.payment_id,)
        ).fetchone()
        if recorded is not None:
            raise conflict(
                "payment_already_recorded",
                f"Payment {body.payment_id} is already recorded on {recorded['invoice_id']}",
                "payment_id",
            )
        if invoice["status"] != "open":
            raise conflict(
                "invalid_state", f"Payments are recorded on open invoices, not {invoice['status']}"
            )
        if body.currency != invoice["currency"]:
            raise conflict(
                "currency_mismatch", f"The invoice is in {invoice['currency']}", "currency"
            )
        total, paid = int(invoice["total"]), int(invoice["amount_paid"])
        if body.amount > total - paid:
            raise conflict("amount_exceeds_due", f"The amount due is {total - paid}", "amount")
        paid += body.amount
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO invoice_payments (payment_id, invoice_id) VALUES (?, ?)",
                (body.payment_id, invoice["id"]),
            )
            payload = self._update(
                invoice,
                "amount_paid = ?, status = ?",
                (str(paid), "paid" if paid == total else "open"),
            )
        return Reply(200, payload)

    # -- helpers -------------------------------------------------------------------------

    def _business(self, business_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = self.conn.execute(
            "SELECT * FROM businesses WHERE id = ?", (business_id,)
        ).fetchone()
        if row is None:
            raise missing("business", business_id, "business_id")
        return row

    def _invoice(self, invoice_id: str) -> sqlite3.Row:
        row: sqlite3.Row | None = None
        if INVOICE_ID.fullmatch(invoice_id):
            row = self.conn.execute("SELECT * FROM invoices WHERE id = ?", (invoice_id,)).fetchone()
        if row is None:
            raise missing("invoice", invoice_id, "invoice_id")
        return row

    def _invoice_json(self, row: sqlite3.Row) -> dict[str, Any]:
        return invoice_json(row, payment_ids_of(self.conn, [row["id"]])[row["id"]])

    def _update(
        self, invoice: sqlite3.Row, assignments: str, params: tuple[Any, ...] = ()
    ) -> dict[str, Any]:
        # `assignments` is a fixed fragment from the callers above; values are bound.
        self.conn.execute(
            f"UPDATE invoices SET {assignments}, updated_at = ? WHERE id = ?",  # noqa: S608
            (*params, now_after(invoice["updated_at"]), invoice["id"]),
        )
        return self._invoice_json(self._invoice(invoice["id"]))
