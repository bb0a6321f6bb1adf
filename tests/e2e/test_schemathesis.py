"""Schemathesis in GraphQL mode against the gateway in production settings, with a valid
token: queries and mutations generated from the schema (which it reads by introspection)
never get a 5xx. Derandomized and bounded, so a run is repeatable and takes seconds."""

from __future__ import annotations

import asyncio
from datetime import UTC
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Ok
from schemathesis.generation.case import Case
from schemathesis.graphql import nodes
from schemathesis.python import asgi

from app.auth.principal import Role
from app.db import migrate
from app.db.engine import create_engine
from app.main import create_app
from sandbox.seed import GB_BUSINESS_ID, IN_BUSINESS_ID
from tests.e2e.conftest import Downstreams, TokenFactory, gateway_settings

EXAMPLES = 400


def _register_scalars() -> None:
    """The schema's own scalars: well-formed values and anything else a client may send."""
    noise = st.text(max_size=24)
    decimals = st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str)
    moments = st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())
    days = st.dates().map(lambda d: d.isoformat())
    for name, valid in (("Decimal", decimals), ("DateTime", moments), ("Date", days)):
        schemathesis.graphql.scalar(name, st.one_of(valid, noise).map(nodes.String))


async def _migrated(database_url: str) -> None:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    await engine.dispose()


def test_generated_operations_never_get_a_server_error(
    downstreams: Downstreams, token_for: TokenFactory, tmp_path: Path
) -> None:
    # Given a production gateway (schemathesis runs it, lifespan included, in its own
    # event loop) and an owner's token
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    asyncio.run(_migrated(database_url))
    # The rate limit is a protection of its own (tests/e2e/test_rate_limits.py); here
    # it would only turn the fuzzer's costlier documents into 429s.
    gateway = gateway_settings(database_url, rate_limit_capacity=1_000_000)
    app = create_app(gateway, transports=downstreams.transports())
    token = token_for([(GB_BUSINESS_ID, Role.OWNER), (IN_BUSINESS_ID, Role.VIEWER)])
    headers = {"Authorization": f"Bearer {token}"}
    statuses: list[int] = []
    _register_scalars()
    try:
        schema = schemathesis.graphql.from_asgi("/graphql", app, headers=headers)
        operations = []
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            operations.append(result.ok())
        strategy = st.one_of([operation.as_strategy() for operation in operations])

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case: Case[Any]) -> None:
            response = case.call(headers=headers)
            statuses.append(response.status_code)
            assert response.status_code < 500, (case.body, response.text)

        # When every generated case is sent
        no_server_error()
    finally:
        asgi.shutdown_lifespans()

    # Then none was a 5xx, and the run reached queries and mutations alike
    assert len(operations) == 14
    assert len(statuses) >= EXAMPLES
    assert set(statuses) <= {200, 400}
