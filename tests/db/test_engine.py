"""The engine's connections (app/db/engine.py): a pooled PostgreSQL connection is pinged
before use only after sitting idle (a dead idle one is replaced unseen; one in steady use
is not pinged, and the pool recovers after its first failure); a single read runs
outside a transaction on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.db.engine import PING_AFTER_IDLE_SECONDS, create_engine, one_read, ping_when_idle
from tests.tcp_hop import TcpHop, database_behind_hop


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        pid: int = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    return pid


async def _kill(server_url: str, pid: int) -> None:
    """Ends the server side of a pooled connection, as a restart or an idle timeout would."""
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
                    break
                await asyncio.sleep(0.01)
            else:
                pytest.fail(f"backend {pid} did not end")
    finally:
        await admin.dispose()
    # the client's event loop reads the server's goodbye (on loopback, at once)
    await asyncio.sleep(0.2)


@pytest.fixture
async def hop_url(postgres_url: str) -> AsyncIterator[tuple[TcpHop, str]]:
    async with database_behind_hop(postgres_url) as (hop, url):
        yield hop, url


def _count_pings(monkeypatch: pytest.MonkeyPatch, engine: AsyncEngine) -> list[object]:
    pings: list[object] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_connection_is_pinged_once_idle_for_the_bound_and_not_before(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an engine pinging after one second idle, on a clock the test moves
    engine = create_async_engine(postgres_url, pool_size=1)
    clock = FakeClock()
    ping_when_idle(engine, PING_AFTER_IDLE_SECONDS, clock)
    pings = _count_pings(monkeypatch, engine)
    try:
        first = await _backend_pid(engine)  # a new connection: no ping

        # when it is used again 0.99 s after it came back, then 1.0 s after
        clock.now += 0.99
        again = await _backend_pid(engine)
        assert pings == []
        clock.now += 1.0
        late = await _backend_pid(engine)

        # then only the second use pinged, on the same (live) connection
        assert len(pings) == 1
        assert first == again == late
    finally:
        await engine.dispose()


async def test_a_connection_the_server_ended_is_replaced_without_a_ping(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a pooled connection in steady use (the bound is an hour) whose server side
    # ended, and the driver heard it
    engine = create_engine(postgres_url, ping_after_idle_seconds=3600.0)
    pings = _count_pings(monkeypatch, engine)
    try:
        first = await _backend_pid(engine)
        await _kill(postgres_url, first)

        # when it is asked for again
        second = await _backend_pid(engine)

        # then the pool answered on a new connection, with no ping and no error
        assert second != first
        assert pings == []
    finally:
        await engine.dispose()


async def test_a_vanished_connection_idle_past_the_bound_is_pinged_and_replaced_unseen(
    hop_url: tuple[TcpHop, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a pooled connection idle past the bound (0 s: every checkout is after it)
    # whose far side vanished without the driver hearing
    hop, url = hop_url
    engine = create_engine(url, ping_after_idle_seconds=0.0)
    pings = _count_pings(monkeypatch, engine)
    try:
        first = await _backend_pid(engine)
        hop.vanish()

        # when it is asked for again
        second = await _backend_pid(engine)

        # then one ping found it dead and the pool answered on a new connection
        assert len(pings) == 1
        assert second != first
    finally:
        await engine.dispose()


async def test_a_vanished_connection_in_steady_use_fails_once_and_the_pool_recovers(
    hop_url: tuple[TcpHop, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a pooled connection back in the pool for less than the bound (an hour), whose
    # far side vanished without the driver hearing
    hop, url = hop_url
    engine = create_engine(url, ping_after_idle_seconds=3600.0)
    pings = _count_pings(monkeypatch, engine)
    try:
        first = await _backend_pid(engine)
        hop.vanish()

        # when it is used at once, then its statement meets the dead connection (no ping
        # went first) and SQLAlchemy reports it as lost
        with pytest.raises(DBAPIError) as failure:
            await _backend_pid(engine)
        assert failure.value.connection_invalidated
        assert pings == []

        # and the next use gets a new connection
        assert await _backend_pid(engine) != first
    finally:
        await engine.dispose()


def test_the_embedded_sqlite_engine_pings_nothing(sqlite_url: str) -> None:
    # given the embedded default, then no checkout hook runs on its connections
    engine = create_engine(sqlite_url)
    assert len(engine.sync_engine.pool.dispatch.checkout) == 0


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
