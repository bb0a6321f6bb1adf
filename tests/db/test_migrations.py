"""Migrations on both backends: apply, re-apply, match the code's tables, roll back."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, insert, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import migrate
from app.db.engine import create_engine, is_sqlite
from app.db.tables import idempotency_keys, metadata


def _differences(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_upgrade_creates_the_tables_the_code_declares(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine)

    assert await migrate.current_revision(engine) == "0004"
    async with engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_upgrade_is_safe_to_run_again(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine)
    await migrate.upgrade(engine)

    assert await migrate.current_revision(engine) == "0004"


async def test_downgrade_to_base_removes_everything_and_upgrade_restores_it(
    engine: AsyncEngine,
) -> None:
    await migrate.upgrade(engine)
    await migrate.downgrade(engine, "base")

    async with engine.connect() as connection:
        assert await connection.run_sync(_table_names) == {"alembic_version"}
    await migrate.upgrade(engine)
    async with engine.connect() as connection:
        tables = await connection.run_sync(_table_names)
    assert {
        "idempotency_keys",
        "outbox",
        "payment_locks",
        "payment_watch",
        "domain_events",
    } <= tables


async def test_the_primary_key_makes_an_idempotency_claim_atomic(engine: AsyncEngine) -> None:
    # Given a migrated database
    await migrate.upgrade(engine)
    now = datetime.now(UTC)
    row = {
        "scope_digest": "a" * 64,
        "idempotency_key": "key-1",
        "fingerprint": "f" * 64,
        "status": "in_progress",
        "recovery_point": "started",
        "created_at": now,
        "updated_at": now,
        "expires_at": now + timedelta(hours=24),
    }
    dialect_insert = sqlite.insert if is_sqlite(str(engine.url)) else postgresql.insert
    claim = dialect_insert(idempotency_keys).values(**row).on_conflict_do_nothing()

    # When two claims for the same scope and key race
    async def try_claim() -> int:
        async with engine.begin() as connection:
            return (await connection.execute(claim)).rowcount

    outcomes = await asyncio.gather(*(try_claim() for _ in range(8)))

    # Then exactly one wins and one row exists
    assert sorted(outcomes) == [0] * 7 + [1]
    async with engine.connect() as connection:
        rows = (await connection.execute(select(idempotency_keys.c.status))).all()
    assert [tuple(r) for r in rows] == [("in_progress",)]


async def test_a_plain_insert_of_the_same_key_is_refused(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine)
    now = datetime.now(UTC)
    row = {
        "scope_digest": "b" * 64,
        "idempotency_key": "k",
        "fingerprint": "f" * 64,
        "status": "in_progress",
        "recovery_point": "started",
        "created_at": now,
        "updated_at": now,
        "expires_at": now,
    }
    async with engine.begin() as connection:
        await connection.execute(insert(idempotency_keys).values(**row))

    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(insert(idempotency_keys).values(**row))


@pytest.mark.postgres
async def test_concurrent_upgrades_on_postgresql_take_turns(postgres_url: str) -> None:
    # Several gateway processes starting at once must not race on DDL.
    engines = [create_engine(postgres_url) for _ in range(4)]
    try:
        await asyncio.gather(*(migrate.upgrade(e) for e in engines))
        assert await migrate.current_revision(engines[0]) == "0004"
    finally:
        for e in engines:
            await e.dispose()


def test_the_migrate_command_creates_and_reports_the_schema(sqlite_url: str) -> None:
    # A production release job: only the database is configured.
    environment = {"PATH": os.environ["PATH"], "APP_ENV": "production", "DATABASE_URL": sqlite_url}
    for _ in range(2):
        completed = subprocess.run(
            [sys.executable, "-m", "app", "migrate"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        assert completed.stdout.strip() == "database schema at revision 0004"


def test_the_migrate_command_names_a_bad_setting() -> None:
    environment = {k: v for k, v in os.environ.items() if k not in ("APP_ENV",)}
    environment.update({"APP_ENV": "production", "DATABASE_URL": "mysql://x/y"})
    completed = subprocess.run(
        [sys.executable, "-m", "app", "migrate"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 2
    assert "DATABASE_URL: must start with one of" in completed.stderr
    assert "Traceback" not in completed.stderr
