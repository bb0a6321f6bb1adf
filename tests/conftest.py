"""Shared fixtures: real databases (SQLite file, PostgreSQL throwaway database), a real
Redis (a key prefix of its own per test, deleted afterwards) and a real RabbitMQ."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"
REQUIRE_REDIS = os.environ.get("REQUIRE_REDIS") == "1"
REQUIRE_RABBITMQ = os.environ.get("REQUIRE_RABBITMQ") == "1"
REQUIRE_HAPROXY = os.environ.get("REQUIRE_HAPROXY") == "1"
TEST_AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Parametrised database tests run on PostgreSQL too: mark them so CI can insist.
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database_url") == "postgresql":
            item.add_marker(pytest.mark.postgres)
        if "redis_server_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.redis)
        if "rabbitmq_server_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.rabbitmq)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for marker, required, name in (
        ("postgres", REQUIRE_POSTGRES, "PostgreSQL"),
        ("redis", REQUIRE_REDIS, "Redis"),
        ("rabbitmq", REQUIRE_RABBITMQ, "RabbitMQ"),
    ):
        if not required:
            continue
        skipped = [
            report
            for report in terminalreporter.stats.get("skipped", [])
            if marker in getattr(report, "keywords", {})
        ]
        if skipped:
            terminalreporter.section(f"{name} tests skipped while REQUIRE_{marker.upper()}=1")
            for report in skipped:
                terminalreporter.write_line(report.nodeid)
            session = terminalreporter._session
            if session is not None:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    """TEST_REDIS_URL (default 127.0.0.1:6379) if it answers; skipped if not, unless
    REQUIRE_REDIS=1 (CI), which makes it a failure."""
    client = redis.Redis.from_url(TEST_REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if REQUIRE_REDIS:
            pytest.fail(f"REQUIRE_REDIS=1 but Redis at {TEST_REDIS_URL} does not answer: {exc}")
        pytest.skip(f"Redis at {TEST_REDIS_URL} does not answer: Redis tests need a real server")
    finally:
        client.close()
    return TEST_REDIS_URL


def rabbitmq_unavailable(reason: str) -> None:
    """Skips a RabbitMQ test locally; with REQUIRE_RABBITMQ=1 (CI) it fails instead."""
    if REQUIRE_RABBITMQ:
        pytest.fail(f"REQUIRE_RABBITMQ=1 but {reason}")
    pytest.skip(f"{reason}: RabbitMQ tests need a real broker")


@pytest.fixture(scope="session")
def rabbitmq_server_url() -> str:
    """TEST_AMQP_URL (default guest@127.0.0.1:5672) if its port answers AMQP; skipped if
    not, unless REQUIRE_RABBITMQ=1 (CI), which makes it a failure."""
    parts = urlsplit(TEST_AMQP_URL)
    address = (parts.hostname or "127.0.0.1", parts.port or 5672)
    try:
        with socket.create_connection(address, timeout=2) as probe:
            probe.sendall(b"AMQP\x00\x00\x09\x01")
            probe.settimeout(2)
            # The broker's first frame is a method frame (type 1): Connection.Start.
            answered = probe.recv(1) == b"\x01"
    except OSError as exc:
        rabbitmq_unavailable(f"RabbitMQ at {address} does not answer: {exc}")
    if not answered:
        rabbitmq_unavailable(f"{address} does not speak AMQP 0-9-1")
    return TEST_AMQP_URL


@pytest.fixture(scope="session")
def haproxy_binary() -> str:
    """Debian's haproxy (the local cluster's load balancer); skipped if not installed,
    unless REQUIRE_HAPROXY=1 (CI installs it), which makes it a failure."""
    from deploy.local.haproxy import find_haproxy

    binary = find_haproxy()
    if binary is None:
        if REQUIRE_HAPROXY:
            pytest.fail("REQUIRE_HAPROXY=1 but haproxy is not installed (apt-get install haproxy)")
        pytest.skip("haproxy is not installed: the local cluster's tests need it")
    return binary


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (bound and released): connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def redis_prefix(redis_server_url: str) -> Iterator[str]:
    """A key prefix no other test uses; every key under it is deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_server_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        if REQUIRE_POSTGRES:
            pytest.fail("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")
        pytest.skip("TEST_DATABASE_URL not set: PostgreSQL tests need a real server")
    return url


@pytest.fixture
async def postgres_url(postgres_server_url: str) -> AsyncIterator[str]:
    """A fresh, empty database per test on the real server, dropped afterwards."""
    name = f"gw_test_{uuid.uuid4().hex[:16]}"
    admin = create_async_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs a test once on the embedded SQLite default and once on real PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    from app.db.engine import create_engine

    engine = create_engine(database_url)
    yield engine
    await engine.dispose()
