"""SQLite connection, ids and timestamps."""

from __future__ import annotations

import secrets
import sqlite3
import string
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_ALPHABET = string.ascii_letters + string.digits


def connect(db_path: str) -> sqlite3.Connection:
    # One connection per app, used only from the event loop thread; check_same_thread is
    # off because the app may be built in another thread than the one serving it.
    conn = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """All statements inside commit together or not at all."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:  # noqa: BLE001 - re-raised: any exit, even cancellation, must roll back
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def format_ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_ts() -> str:
    return format_ts(datetime.now(UTC))


def now_after(previous: str) -> str:
    """Now, or one second past `previous` if that is not earlier.

    Timestamps have whole seconds, so two changes within one second would otherwise
    leave updated_at unchanged; callers rely on it moving on every change.
    """
    moment = datetime.now(UTC).replace(microsecond=0)
    earlier = datetime.fromisoformat(previous)
    if moment <= earlier:
        moment = earlier + timedelta(seconds=1)
    return format_ts(moment)
