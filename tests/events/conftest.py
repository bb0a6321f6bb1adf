"""Fixtures of the event tests: a migrated database, a private RabbitMQ node, and the
gateway worlds of the mutation tests (for emission through real mutations)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import migrate
from tests.conftest import rabbitmq_unavailable
from tests.events.broker import PrivateNode, private_node, rabbitmq_tool

# The mutation tests' in-process gateway on SQLite and PostgreSQL.
from tests.mutations.conftest import saga_key, world_factory  # noqa: F401


@pytest.fixture
async def migrated(engine: AsyncEngine) -> AsyncEngine:
    await migrate.upgrade(engine)
    return engine


@pytest.fixture(scope="session")
def private_rabbitmq(rabbitmq_server_url: str) -> Iterator[PrivateNode]:
    """A RabbitMQ node of this test run only, so that stopping it disturbs nobody."""
    if rabbitmq_tool("rabbitmq-server") is None:
        rabbitmq_unavailable("rabbitmq-server is not installed")
    node = private_node()
    node.start()
    try:
        yield node
    finally:
        node.stop()
