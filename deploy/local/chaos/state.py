"""The services' own state after a chaos run, read as records for the invariants.

- the invoicing and payments sandboxes: their SQLite databases in the run directory
  (invoices with the payments recorded on them; payments with their status and refunds);
- the gateway: its PostgreSQL database (sagas, settlement watches, outbox, domain events);
- RabbitMQ: the run's own durable queue, bound to the events exchange before any
  gateway started, drained at the end;
- HAProxy: its log (one line per request, with the server that answered, `<NOSRV>` when
  none was up).
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

import aio_pika
import asyncpg

from app.events.envelope import EXCHANGE
from deploy.local.chaos.invariants import Invoice, LbLine, Payment, Saga, Watch
from deploy.local.haproxy import BACKEND
from sandbox.seed import PAYMENTS

QUEUE = "chaos-run-events"
# A request's line (option httplog) to the gateways' backend: when, which server, status.
LOG_LINE = re.compile(
    r"\[(?P<ts>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d\.\d+)\] \S+ "
    + re.escape(BACKEND)
    + r"/(?P<server>\S+) \S+ (?P<status>-?\d+) "
)


def _rows(db: Path, query: str) -> list[sqlite3.Row]:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    try:
        return connection.execute(query).fetchall()
    finally:
        connection.close()


def invoices(db: Path) -> list[Invoice]:
    recorded: dict[str, list[str]] = {}
    for row in _rows(db, "SELECT payment_id, invoice_id FROM invoice_payments ORDER BY seq"):
        recorded.setdefault(row["invoice_id"], []).append(row["payment_id"])
    return [
        Invoice(
            row["id"],
            int(row["total"]),
            int(row["amount_paid"]),
            tuple(recorded.get(row["id"], ())),
        )
        for row in _rows(db, "SELECT id, total, amount_paid FROM invoices")
    ]


def payments(db: Path) -> dict[str, Payment]:
    return {
        row["id"]: Payment(
            row["id"], row["invoice_id"], row["amount"], row["status"], row["amount_refunded"]
        )
        for row in _rows(db, "SELECT id, invoice_id, amount, status, amount_refunded FROM payments")
    }


def run_payment_ids(all_payments: Iterable[str]) -> list[str]:
    """The payments taken during the run: every one the seed did not have."""
    seeded = {p.id for p in PAYMENTS}
    return sorted(p for p in all_payments if p not in seeded)


def pending_run_payments(db: Path) -> list[str]:
    return run_payment_ids(
        row["id"] for row in _rows(db, "SELECT id FROM payments WHERE status = 'pending'")
    )


async def gateway_state(dsn: str) -> tuple[list[Saga], list[Watch], int, list[str], int]:
    """(sagas, settlement watches, open outbox steps, recorded event ids, unpublished)."""
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        sagas = [
            Saga(
                row["idempotency_key"],
                row["status"],
                float(row["age"]),
                row["payment_id"],
            )
            for row in await connection.fetch(
                "SELECT idempotency_key, status, state::jsonb -> 'payment' ->> 'id' AS payment_id,"
                " extract(epoch FROM now() - updated_at) AS age FROM idempotency_keys"
            )
        ]
        watches = [
            Watch(row["payment_id"], row["state"])
            for row in await connection.fetch("SELECT payment_id, state FROM payment_watch")
        ]
        open_outbox = await connection.fetchval(
            "SELECT count(*) FROM outbox WHERE completed_at IS NULL"
        )
        events = [row["id"] for row in await connection.fetch("SELECT id FROM domain_events")]
        unpublished = await connection.fetchval(
            "SELECT count(*) FROM domain_events WHERE published_at IS NULL"
        )
    finally:
        await connection.close()
    return sagas, watches, int(open_outbox), events, int(unpublished)


async def invoice_event_count(dsn: str, business_id: str) -> int:
    """The invoice events of a business the gateway recorded (what its subscribers follow)."""
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        count = await connection.fetchval(
            "SELECT count(*) FROM domain_events WHERE business_id = $1 AND type LIKE 'invoice.%'",
            business_id,
        )
    finally:
        await connection.close()
    return int(count)


async def bind_queue(amqp_url: str) -> None:
    """The run's queue, bound to every event before the first gateway starts."""
    connection = await aio_pika.connect(amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(QUEUE, durable=True)
        await queue.bind(exchange, routing_key="#")


async def drain_queue(amqp_url: str) -> list[str]:
    """Every message id the run's queue holds (acknowledged as read)."""
    ids: list[str] = []
    connection = await aio_pika.connect(amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(QUEUE, durable=True)
        while True:
            message = await queue.get(fail=False, timeout=5)
            if message is None:
                return ids
            ids.append(message.message_id or "")
            await message.ack()


RESENT = re.compile(rf" {BACKEND}/\S+ .* \d+/\d+/\d+/\d+/\+?[1-9]\d* ")


def resent(log: Path) -> int:
    """Requests the balancer sent again to another gateway (the one it chose died or
    closed without answering): the requests a killed gateway had in flight."""
    return sum(bool(RESENT.search(line)) for line in log.read_text(errors="replace").splitlines())


def log_epoch(stamp: str) -> float:
    """HAProxy's `03/Dec/2026:16:21:04.276`, in the machine's local time, as an epoch."""
    # Parsed with a dummy zone (a naive parse is an error here), read back as local time.
    when = dt.datetime.strptime(stamp + "+0000", "%d/%b/%Y:%H:%M:%S.%f%z")
    return time.mktime(when.replace(tzinfo=None).timetuple()) + when.microsecond / 1e6


def balancer_log(log: Path, started_epoch: float) -> list[LbLine]:
    """The balancer's answers to the gateways' clients, at seconds into the run."""
    lines = []
    for text in log.read_text(errors="replace").splitlines():
        match = LOG_LINE.search(text)
        if match is not None:
            at = log_epoch(match["ts"]) - started_epoch
            lines.append(LbLine(at, int(match["status"]), match["server"]))
    return lines
