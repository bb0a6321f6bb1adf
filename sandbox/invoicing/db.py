"""Invoicing tables, the seed loader and the JSON shape of each object.

Invoice money columns are TEXT holding exact integers: the contract bounds quantity and
unit_amount but not totals, which can pass SQLite's 64-bit INTEGER (100 lines of
1,000,000 x 100,000,000,000). Nothing here sums money in SQL.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from sandbox.common.money import invoice_totals
from sandbox.common.store import transaction
from sandbox.seed import BUSINESSES, CUSTOMERS, INVOICES

TABLES = ("invoice_payments", "invoices", "customers", "businesses")

SCHEMA = """
CREATE TABLE IF NOT EXISTS businesses (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL,
    default_currency TEXT NOT NULL, vat_number TEXT, created_at TEXT NOT NULL,
    next_number INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY, business_id TEXT NOT NULL, name TEXT NOT NULL, email TEXT,
    phone TEXT, created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS customers_listing ON customers (business_id, created_at, id);
CREATE TABLE IF NOT EXISTS invoices (
    id TEXT PRIMARY KEY, business_id TEXT NOT NULL, customer_id TEXT NOT NULL,
    number TEXT NOT NULL, status TEXT NOT NULL, currency TEXT NOT NULL, lines TEXT NOT NULL,
    tax_rate_bps INTEGER NOT NULL, subtotal TEXT NOT NULL, tax TEXT NOT NULL,
    total TEXT NOT NULL, amount_paid TEXT NOT NULL, due_date TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS invoices_listing ON invoices (business_id, created_at, id);
CREATE TABLE IF NOT EXISTS invoice_payments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, payment_id TEXT NOT NULL UNIQUE,
    invoice_id TEXT NOT NULL
);
"""


def create_schema(conn: sqlite3.Connection, *, fresh: bool) -> None:
    if fresh:
        for table in TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.executescript(SCHEMA)


def lines_json(lines: Sequence[tuple[str, int, int]]) -> str:
    return json.dumps(
        [{"description": d, "quantity": q, "unit_amount": u, "amount": q * u} for d, q, u in lines]
    )


def restore_seed(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        for table in TABLES:
            conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        conn.executemany(
            "INSERT INTO businesses VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    b.id,
                    b.name,
                    b.country,
                    b.default_currency,
                    b.vat_number,
                    b.created_at,
                    1 + sum(1 for inv in INVOICES if inv.business_id == b.id),
                )
                for b in BUSINESSES
            ],
        )
        conn.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?)",
            [(c.id, c.business_id, c.name, c.email, c.phone, c.created_at) for c in CUSTOMERS],
        )
        for inv in INVOICES:
            raw = [(ln.description, ln.quantity, ln.unit_amount) for ln in inv.lines]
            totals = invoice_totals([(q, u) for _, q, u in raw], inv.tax_rate_bps)
            conn.execute(
                "INSERT INTO invoices VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    inv.id,
                    inv.business_id,
                    inv.customer_id,
                    inv.number,
                    inv.status,
                    inv.currency,
                    lines_json(raw),
                    inv.tax_rate_bps,
                    str(totals.subtotal),
                    str(totals.tax),
                    str(totals.total),
                    str(inv.amount_paid),
                    inv.due_date,
                    inv.created_at,
                    inv.updated_at,
                ),
            )
        conn.executemany(
            "INSERT INTO invoice_payments (payment_id, invoice_id) VALUES (?, ?)",
            [(pid, inv.id) for inv in INVOICES for pid in inv.payment_ids],
        )


def business_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "business",
        "name": row["name"],
        "country": row["country"],
        "default_currency": row["default_currency"],
        "vat_number": row["vat_number"],
        "created_at": row["created_at"],
    }


def customer_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "customer",
        "business_id": row["business_id"],
        "name": row["name"],
        "email": row["email"],
        "phone": row["phone"],
        "created_at": row["created_at"],
    }


def payment_ids_of(conn: sqlite3.Connection, invoice_ids: Sequence[str]) -> dict[str, list[str]]:
    """Payment ids per invoice, oldest first, in one query."""
    found: dict[str, list[str]] = {invoice_id: [] for invoice_id in invoice_ids}
    if not invoice_ids:
        return found
    marks = ",".join("?" for _ in invoice_ids)
    rows = conn.execute(
        f"SELECT invoice_id, payment_id FROM invoice_payments "  # noqa: S608 - marks only
        f"WHERE invoice_id IN ({marks}) ORDER BY seq",
        tuple(invoice_ids),
    )
    for row in rows:
        found[row["invoice_id"]].append(row["payment_id"])
    return found


def invoice_json(row: sqlite3.Row, payment_ids: list[str]) -> dict[str, Any]:
    total, paid = int(row["total"]), int(row["amount_paid"])
    return {
        "id": row["id"],
        "object": "invoice",
        "business_id": row["business_id"],
        "customer_id": row["customer_id"],
        "number": row["number"],
        "status": row["status"],
        "currency": row["currency"],
        "lines": json.loads(row["lines"]),
        "tax_rate_bps": row["tax_rate_bps"],
        "subtotal": int(row["subtotal"]),
        "tax": int(row["tax"]),
        "total": total,
        "amount_paid": paid,
        "amount_due": total - paid,
        "due_date": row["due_date"],
        "payment_ids": payment_ids,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def invoices_json(conn: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> list[dict[str, Any]]:
    payment_ids = payment_ids_of(conn, [row["id"] for row in rows])
    return [invoice_json(row, payment_ids[row["id"]]) for row in rows]
