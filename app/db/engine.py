"""The async database engine: PostgreSQL (asyncpg) in production, SQLite embedded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

CONNECT_TIMEOUT_SECONDS = 5.0


def is_sqlite(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "sqlite"


def create_engine(database_url: str) -> AsyncEngine:
    """An engine whose transactions really are transactions on both backends."""
    url = make_url(database_url)
    if not is_sqlite(database_url):
        return create_async_engine(
            url,
            pool_size=10,
            max_overflow=10,
            pool_pre_ping=True,
            # A stuck statement must not hold a request past its deadline, nor a database
            # that accepts no connection (a partition drops packets: asyncpg's own
            # connect timeout is 60 s) hold the start or a worker's round that long.
            connect_args={"command_timeout": 10, "timeout": CONNECT_TIMEOUT_SECONDS},
        )
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 15})
    _make_sqlite_transactional(engine)
    return engine


def _make_sqlite_transactional(engine: AsyncEngine) -> None:
    # pysqlite's legacy mode neither begins a transaction before DDL nor takes the write
    # lock up front; a deferred transaction that later writes fails with SQLITE_BUSY at
    # once instead of waiting. BEGIN IMMEDIATE serialises writers and makes migrations
    # and idempotency claims atomic.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
