"""The async database engine: PostgreSQL (asyncpg) in production, SQLite embedded.

A pooled PostgreSQL connection is pinged before use only when it has sat idle in the pool
for `PING_AFTER_IDLE_SECONDS`, not at every checkout as `pool_pre_ping` does. With
asyncpg, SQLAlchemy's ping is three statements (BEGIN, an empty query, ROLLBACK), and a
payInvoice checks a connection out about six times: PostgreSQL's statement log of a
bench run (scenario d) showed 12.3 BEGINs a payInvoice, 7.2 of them ending in
ROLLBACK, six of those the pings. What a ping is for stays covered: a connection that
the driver has seen closed (a server restart, its idle timeout) is replaced at every
checkout without a round trip; one that waited long enough for a proxy or firewall to
drop it unseen is pinged and replaced when dead (the pool's own `DisconnectionError`
handling, as for `pool_pre_ping`). What is given up: a connection in steady use whose
far side vanished without the driver hearing (a half-open socket behind a proxy) fails
its first statement instead, which makes SQLAlchemy drop the whole pool's connections,
as for a connection lost mid-transaction.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

CONNECT_TIMEOUT_SECONDS = 5.0
# A connection idle this long is pinged before use. Under load each of the pool's
# connections comes back within milliseconds; one second keeps the ping off that path.
PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "gateway_idle_since"


def is_sqlite(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "sqlite"


def create_engine(
    database_url: str, *, ping_after_idle_seconds: float = PING_AFTER_IDLE_SECONDS
) -> AsyncEngine:
    """An engine whose transactions really are transactions on both backends."""
    url = make_url(database_url)
    if not is_sqlite(database_url):
        engine = create_async_engine(
            url,
            pool_size=10,
            max_overflow=10,
            # A stuck statement must not hold a request past its deadline, nor a database
            # that accepts no connection (a partition drops packets: asyncpg's own
            # connect timeout is 60 s) hold the start or a worker's round that long.
            connect_args={"command_timeout": 10, "timeout": CONNECT_TIMEOUT_SECONDS},
        )
        ping_when_idle(engine, ping_after_idle_seconds)
        return engine
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


def ping_when_idle(engine: AsyncEngine, after_seconds: float, clock: Any = time.monotonic) -> None:
    """At checkout, replace a pooled connection the driver already knows is closed (no
    round trip), and ping one idle for `after_seconds`: a dead one is replaced by a new
    connection and the pool's older ones are dropped, as `pool_pre_ping` does. (Unlike
    `pool_pre_ping`, a failed ping does not run `handle_error` hooks; none is set.)"""
    dialect: Dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = clock()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: object) -> None:
        is_closed = getattr(dialect.get_driver_connection(dbapi_connection), "is_closed", None)
        if is_closed is not None and is_closed():
            # The server ended it while it was pooled (a restart, its idle timeout) and the
            # driver heard: only this one is replaced, at no cost.
            raise exc.DisconnectionError("the server closed the connection while it was pooled")
        idle_since = record.info.get(_IDLE_SINCE)
        # A new connection (never checked in) has just proved itself by connecting; the
        # pool clears `info` when it replaces one.
        if idle_since is None or clock() - idle_since < after_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if not dialect.is_disconnect(error, dbapi_connection, None):
                raise
            # The pool closes this connection and those made before it, then retries the
            # checkout on a new one (sqlalchemy.pool, "Disconnect Handling").
            raise exc.InvalidatePoolError(str(error)) from error


@asynccontextmanager
async def one_read(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for a single read statement. On PostgreSQL it runs outside a
    transaction: a lone statement is atomic and reads one snapshot by itself, so the
    BEGIN and ROLLBACK around it were two round trips for nothing (one pair per
    payInvoice, its settlement watch read). SQLite is left as it is: embedded, it has
    no round trips to save, and its `begin` hook is written for transactions."""
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            yield connection
        else:
            yield await connection.execution_options(isolation_level="AUTOCOMMIT")
