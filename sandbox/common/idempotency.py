"""Idempotency-Key storage: claim before executing, store the outcome, replay it.

Keys are scoped per service token. The claim is one INSERT on the event-loop thread with
no await between check and insert, so two concurrent requests cannot both win it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from enum import Enum

from sandbox.common.errors import ApiError

RETENTION_SECONDS = 24 * 3600

SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER,
    body BLOB,
    created_at REAL NOT NULL,
    PRIMARY KEY (scope, key)
)
"""


def fingerprint(method: str, path: str, body: bytes) -> str:
    """Same request = same method, path and JSON body, whatever its key order or spacing."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except ValueError:
        canonical = body  # not JSON: compared byte for byte, it fails validation anyway
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


class Claim(Enum):
    CLAIMED = "claimed"
    REPLAY = "replay"


@dataclass(frozen=True)
class Outcome:
    claim: Claim
    status: int = 0
    body: bytes = b""


class IdempotencyStore:
    def __init__(self, conn: sqlite3.Connection, token: str) -> None:
        self._conn = conn
        self._scope = hashlib.sha256(token.encode()).hexdigest()
        conn.execute(SCHEMA)

    def claim(self, key: str, print_: str) -> Outcome:
        """Claim `key` for a new execution, or say why it cannot run (raises ApiError)."""
        now = time.time()
        self._conn.execute(
            "DELETE FROM idempotency_keys WHERE created_at < ?", (now - RETENTION_SECONDS,)
        )
        inserted = self._conn.execute(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (scope, key) DO NOTHING",
            (self._scope, key, print_, now),
        )
        if inserted.rowcount == 1:
            return Outcome(Claim.CLAIMED)
        row = self._conn.execute(
            "SELECT fingerprint, status, body FROM idempotency_keys WHERE scope = ? AND key = ?",
            (self._scope, key),
        ).fetchone()
        if row["fingerprint"] != print_:
            raise ApiError(
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was already used with a different request",
                "Idempotency-Key",
            )
        if row["status"] is None:
            raise ApiError(
                409,
                "idempotency_key_in_use",
                "A request with this Idempotency-Key is still being processed; retry later",
                "Idempotency-Key",
            )
        return Outcome(Claim.REPLAY, int(row["status"]), bytes(row["body"]))

    def complete(self, key: str, status: int, body: bytes) -> None:
        self._conn.execute(
            "UPDATE idempotency_keys SET status = ?, body = ? WHERE scope = ? AND key = ?",
            (status, body, self._scope, key),
        )

    def release(self, key: str) -> None:
        """Forget an unfinished claim so that a retry with the same key runs again."""
        self._conn.execute(
            "DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND status IS NULL",
            (self._scope, key),
        )

    def clear(self) -> None:
        self._conn.execute("DELETE FROM idempotency_keys")
