"""The payments sandbox's own /_sandbox/ routes: settling a pending payment by hand.

A bank transfer (`pm_bank_transfer`) is `pending` when taken and settles later. A real
bank does that; the contract has no endpoint or callback for it, so developers and tests
settle it here: POST /_sandbox/payments/{payment_id}/settle with
`{"status": "succeeded"}` or `{"status": "failed", "failure_code": ...}`. Only the
payments service changes (status and so the balance); recording a succeeded payment on
its invoice stays the caller's job, as for any payment.
"""

from __future__ import annotations

import sqlite3
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from sandbox.common.errors import (
    ApiError,
    conflict,
    encode_json,
    error_response,
    invalid,
    json_bytes_response,
    missing,
)
from sandbox.common.store import transaction
from sandbox.common.validation import StrictBody, parse_body
from sandbox.payments.db import payment_json
from sandbox.payments.handlers import PAYMENT_ID

FailureCode = Literal["card_declined", "insufficient_funds"]
# The contract's failure codes are card-flavoured; a transfer that bounces for want of
# money is closest to insufficient_funds.
DEFAULT_FAILURE_CODE: FailureCode = "insufficient_funds"


class SettleBody(StrictBody):
    status: Literal["succeeded", "failed"]
    failure_code: FailureCode | None = None


def settle(conn: sqlite3.Connection, payment_id: str, body: SettleBody) -> sqlite3.Row:
    """Move a pending payment to `body.status`; the settled payment's row."""
    failure_code = None
    if body.status == "failed":
        failure_code = body.failure_code or DEFAULT_FAILURE_CODE
    elif body.failure_code is not None:
        raise invalid("failure_code is only for a failed payment", "failure_code")
    if not PAYMENT_ID.fullmatch(payment_id):
        raise missing("payment", payment_id, "payment_id")
    with transaction(conn):
        # Conditional on `pending`, so a payment settles once, whoever asks twice.
        rows = conn.execute(
            "UPDATE payments SET status = ?, failure_code = ? "
            "WHERE id = ? AND status = 'pending' RETURNING *",
            (body.status, failure_code, payment_id),
        ).fetchall()
    if rows:
        settled: sqlite3.Row = rows[0]
        return settled
    current = conn.execute("SELECT status FROM payments WHERE id = ?", (payment_id,)).fetchone()
    if current is None:
        raise missing("payment", payment_id, "payment_id")
    raise conflict(
        "invalid_state", f"Only a pending payment can be settled, not {current['status']}"
    )


def admin_routes(conn: sqlite3.Connection) -> list[BaseRoute]:
    async def settle_payment(request: Request) -> Response:
        try:
            body = parse_body(SettleBody, await request.body())
            row = settle(conn, str(request.path_params["payment_id"]), body)
        except ApiError as err:
            return error_response(err)
        return json_bytes_response(200, encode_json(payment_json(row)))

    return [Route("/_sandbox/payments/{payment_id}/settle", settle_payment, methods=["POST"])]
