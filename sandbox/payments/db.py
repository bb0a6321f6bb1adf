"""Payments tables, the seed loader, balances and the JSON shape of each object."""

from __future__ import annotations

import sqlite3
from typing import Any

from sandbox.common.store import transaction
from sandbox.payments.methods import TEST_METHODS
from sandbox.seed import BUSINESSES, PAYMENTS, REFUNDS

TABLES = ("refunds", "payments", "businesses")

# `businesses` holds the businesses this service knows: the seed's (with their default
# currency, always shown in a balance) and any other that a payment was taken for.
SCHEMA = """
CREATE TABLE IF NOT EXISTS businesses (id TEXT PRIMARY KEY, default_currency TEXT);
CREATE TABLE IF NOT EXISTS payments (
    id TEXT PRIMARY KEY, business_id TEXT NOT NULL, invoice_id TEXT NOT NULL,
    amount INTEGER NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL,
    failure_code TEXT, amount_refunded INTEGER NOT NULL, payment_method TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_listing ON payments (business_id, created_at, id);
CREATE INDEX IF NOT EXISTS payments_by_invoice ON payments (invoice_id);
CREATE TABLE IF NOT EXISTS refunds (
    id TEXT PRIMARY KEY, business_id TEXT NOT NULL, payment_id TEXT NOT NULL,
    amount INTEGER NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS refunds_by_payment ON refunds (payment_id);
"""


def create_schema(conn: sqlite3.Connection, *, fresh: bool) -> None:
    if fresh:
        for table in TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.executescript(SCHEMA)


def restore_seed(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        for table in TABLES:
            conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        conn.executemany(
            "INSERT INTO businesses VALUES (?, ?)",
            [(b.id, b.default_currency) for b in BUSINESSES],
        )
        conn.executemany(
            "INSERT INTO payments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    p.id,
                    p.business_id,
                    p.invoice_id,
                    p.amount,
                    p.currency,
                    p.status,
                    TEST_METHODS[p.payment_method].failure_code,
                    p.amount_refunded,
                    p.payment_method,
                    p.created_at,
                )
                for p in PAYMENTS
            ],
        )
        conn.executemany(
            "INSERT INTO refunds VALUES (?, ?, ?, ?, ?, 'succeeded', ?, ?)",
            [
                (r.id, r.business_id, r.payment_id, r.amount, r.currency, r.reason, r.created_at)
                for r in REFUNDS
            ],
        )


def payment_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "payment",
        "business_id": row["business_id"],
        "invoice_id": row["invoice_id"],
        "amount": row["amount"],
        "currency": row["currency"],
        "status": row["status"],
        "failure_code": row["failure_code"],
        "amount_refunded": row["amount_refunded"],
        "payment_method": TEST_METHODS[row["payment_method"]].as_json(),
        "created_at": row["created_at"],
    }


def refund_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "object": "refund",
        "business_id": row["business_id"],
        "payment_id": row["payment_id"],
        "amount": row["amount"],
        "currency": row["currency"],
        "status": row["status"],
        "reason": row["reason"],
        "created_at": row["created_at"],
    }


def balance_json(conn: sqlite3.Connection, business_id: str, default: str | None) -> dict[str, Any]:
    """available = succeeded payments - refunds; pending = pending payments; per currency.

    Currencies listed: the business's default one first, then every other currency it
    has taken a payment in, alphabetically.
    """
    settled: dict[str, int] = {}
    pending: dict[str, int] = {}
    for row in conn.execute(
        "SELECT currency, "
        "SUM(CASE WHEN status = 'succeeded' THEN amount ELSE 0 END) AS settled, "
        "SUM(CASE WHEN status = 'pending' THEN amount ELSE 0 END) AS pending "
        "FROM payments WHERE business_id = ? GROUP BY currency",
        (business_id,),
    ):
        settled[row["currency"]] = row["settled"]
        pending[row["currency"]] = row["pending"]
    for row in conn.execute(
        "SELECT currency, SUM(amount) AS refunded FROM refunds "
        "WHERE business_id = ? AND status = 'succeeded' GROUP BY currency",
        (business_id,),
    ):
        settled[row["currency"]] = settled.get(row["currency"], 0) - row["refunded"]
    currencies = sorted(settled)
    if default is not None:
        currencies = [default, *(c for c in currencies if c != default)]
    return {
        "object": "balance",
        "business_id": business_id,
        "available": [{"amount": settled.get(c, 0), "currency": c} for c in currencies],
        "pending": [{"amount": pending.get(c, 0), "currency": c} for c in currencies],
    }
