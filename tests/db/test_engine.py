"""The engine's connections (app/db/engine.py): a pooled PostgreSQL connection is pinged
before use only after sitting idle (a dead idle one is replaced unseen; one in steady use
is not pinged, and the pool recovers after its first failure); a single read runs
outside a transaction on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.db.engine import create_engine, one_read


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        pid: int = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    return pid


async def _kill(server_url: str, pid: int) -> None:
    """Ends the server side of a pooled connection, as a restart or a proxy would."""
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            for _ in range(200):
                gone = (
                    await connection.execute(
                        text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                        {"pid": pid},
                    )
                ).scalar_one() == 0
                if gone:
                    return
                await asyncio.sleep(0.01)
        pytest.fail(f"backend {pid} did not end")
    finally:
        await admin.dispose()


async def test_a_dead_connection_idle_past_the_bound_is_replaced_unseen(
    postgres_url: str,
) -> None:
    # given a pooled connection whose server side has ended while it sat idle longer
    # than the bound (0 s: every checkout is after it)
    engine = create_engine(postgres_url, ping_after_idle_seconds=0.0)
    try:
        first = await _backend_pid(engine)
        await _kill(postgres_url, first)

        # when it is asked for again
        second = await _backend_pid(engine)

        # then the ping found it dead and the pool answered on a new connection
        assert second != first
    finally:
        await engine.dispose()


async def test_a_connection_in_steady_use_is_not_pinged_and_the_pool_recovers(
    postgres_url: str,
) -> None:
    # given a pooled connection back in the pool for less than the bound (an hour), whose
    # server side has ended
    engine = create_engine(postgres_url, ping_after_idle_seconds=3600.0)
    try:
        first = await _backend_pid(engine)
        await _kill(postgres_url, first)

        # when it is used at once, then its statement meets the dead connection (no ping
        # went first) and SQLAlchemy reports it as lost
        with pytest.raises(DBAPIError) as failure:
            await _backend_pid(engine)
        assert failure.value.connection_invalidated

        # and the next use gets a new connection
        assert await _backend_pid(engine) != first
    finally:
        await engine.dispose()


async def _transaction_starts(connection: AsyncConnection) -> tuple[object, object]:
    """When the transactions of two statements 10 ms apart began: the same time when
    they share one."""
    first = (
        await connection.execute(text("SELECT transaction_timestamp() FROM pg_sleep(0.01)"))
    ).scalar_one()
    second = (await connection.execute(text("SELECT transaction_timestamp()"))).scalar_one()
    return first, second


async def test_a_single_read_runs_outside_a_transaction_on_postgresql(postgres_url: str) -> None:
    # given the engine
    engine = create_engine(postgres_url)
    try:
        # when two statements run on one read's connection
        async with one_read(engine) as connection:
            first, second = await _transaction_starts(connection)

        # then each ran in a transaction of its own: no BEGIN was sent around them
        assert first != second
        # and the connection went back to the pool in its usual mode
        async with engine.connect() as connection:
            first, second = await _transaction_starts(connection)
        assert first == second
    finally:
        await engine.dispose()


async def test_a_single_read_on_sqlite_reads(sqlite_url: str) -> None:
    # given the embedded default, when a single read runs, then it answers
    engine = create_engine(sqlite_url)
    try:
        async with one_read(engine) as connection:
            assert (await connection.execute(text("SELECT 41 + 1"))).scalar_one() == 42
    finally:
        await engine.dispose()
