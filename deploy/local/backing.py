"""The machine's PostgreSQL, Redis and RabbitMQ, as the cluster uses them.

The cluster starts none of them and stops none of them: they are shared with everything
else on the machine (`make test`, other stacks). It checks each answers before starting
anything, so a missing one is one clear line rather than three gateways failing their
readiness checks. Of PostgreSQL it owns one database, named by --database (`cluster`):
dropped and created at each start, because the sandboxes are reseeded at each start and
an idempotency key kept from an earlier run would replay objects that no longer exist.
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis

from deploy.local.topology import python_path

DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class BackingError(RuntimeError):
    """A shared service the cluster needs does not answer, or refused a step."""


def database_urls(admin_url: str, name: str) -> tuple[str, str]:
    """(asyncpg URL of database `name`, the gateway's SQLAlchemy URL of it), on the server
    of `admin_url` (postgresql://user@host:port/an-existing-database)."""
    if not DATABASE_NAME.fullmatch(name):
        raise BackingError(f"--database: {name!r} is not a plain lower-case identifier")
    parts = urlsplit(admin_url)
    if parts.scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise BackingError(f"--postgres: {admin_url!r} is not a postgresql:// URL")
    plain = urlunsplit(("postgresql", parts.netloc, f"/{name}", "", ""))
    return plain, plain.replace("postgresql://", "postgresql+asyncpg://", 1)


def _admin_dsn(admin_url: str) -> str:
    return admin_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _admin(admin_url: str, *statements: str) -> None:
    try:
        connection = await asyncpg.connect(_admin_dsn(admin_url), timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise BackingError(f"PostgreSQL at {admin_url} does not answer: {exc}") from None
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def recreate_database(admin_url: str, name: str) -> None:
    asyncio.run(
        _admin(
            admin_url,
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f'CREATE DATABASE "{name}"',
        )
    )


def drop_database(admin_url: str, name: str) -> None:
    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def migrate(database_url: str) -> None:
    """`python -m app migrate`, once, as a release job would, before any gateway starts
    (production gateways never migrate on start)."""
    finished = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "app", "migrate"],
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url, **python_path()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if finished.returncode != 0:
        raise BackingError(f"python -m app migrate failed:\n{finished.stderr[-2000:]}")


def check_redis(url: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise BackingError(f"Redis at {url} does not answer: {exc}") from None
    finally:
        client.close()


def check_amqp(url: str) -> None:
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 5672)
    try:
        with socket.create_connection(address, timeout=2) as probe:
            probe.sendall(b"AMQP\x00\x00\x09\x01")
            probe.settimeout(2)
            # A broker's first frame is a method frame (type 1): Connection.Start.
            answered = probe.recv(1) == b"\x01"
    except OSError as exc:
        raise BackingError(f"RabbitMQ at {address} does not answer: {exc}") from None
    if not answered:
        raise BackingError(f"{address} does not speak AMQP 0-9-1")


def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
