"""A gateway whose regions are two real PostgreSQL databases (copied here from one
migrated template, unique per test, dropped afterwards), with in-process sandbox
services, and a caller who owns a UK and an Indian business."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.auth.principal import Role
from app.core.settings import Settings
from app.db import migrate
from app.db.engine import create_engine
from app.main import create_app
from sandbox.devkeys import load_or_create_private_key, mint_token
from sandbox.idp import create_idp_app
from sandbox.invoicing import create_invoicing_app
from sandbox.payments import create_payments_app
from sandbox.seed import GB_BUSINESS_ID, IN_BUSINESS_ID
from tests.mutations.conftest import (
    AUDIENCE,
    INVOICING_TOKEN,
    ISSUER,
    PAYMENTS_TOKEN,
    SUBJECT,
    saga_settings,
)
from tests.mutations.helpers import Sandbox

# Nothing listens here: a region whose database is down.
CLOSED = "postgresql+asyncpg://nobody@127.0.0.1:1/none"


@dataclass
class Gateway:
    client: httpx.AsyncClient
    invoicing: Sandbox
    payments: Sandbox
    token: str
    # Jurisdiction -> its database (None: down).
    engines: dict[str, AsyncEngine | None]
    settings: Settings
    transports: dict[str, httpx.AsyncBaseTransport]


@pytest.fixture(scope="session")
def region_template(postgres_server_url: str) -> Iterator[str]:
    """One migrated database, copied for each test (CREATE DATABASE ... TEMPLATE): far
    cheaper than migrating two databases per test. Dropped at the end of the session."""
    name = f"gw_res_tmpl_{uuid.uuid4().hex[:12]}"
    url = make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)

    async def make() -> None:
        await _admin(postgres_server_url, f'CREATE DATABASE "{name}"')
        engine = create_engine(url)
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(make())
    try:
        yield name
    finally:
        asyncio.run(_admin(postgres_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(server_url: str, *statements: str) -> None:
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await admin.dispose()


@pytest.fixture
async def region_databases(
    postgres_server_url: str, region_template: str
) -> AsyncIterator[dict[str, str]]:
    """GB and IN: two fresh migrated databases, names unique per test (parallel sessions
    share the server), dropped afterwards."""
    names = {j: f"gw_res_{j.lower()}_{uuid.uuid4().hex[:12]}" for j in ("GB", "IN")}
    await _admin(
        postgres_server_url,
        *(f'CREATE DATABASE "{name}" TEMPLATE "{region_template}"' for name in names.values()),
    )
    try:
        base = make_url(postgres_server_url)
        yield {
            j: base.set(database=name).render_as_string(hide_password=False)
            for j, name in names.items()
        }
    finally:
        await _admin(
            postgres_server_url,
            *(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names.values()),
        )


@pytest.fixture(scope="session")
def residency_key(tmp_path_factory: pytest.TempPathFactory) -> rsa.RSAPrivateKey:
    return load_or_create_private_key(tmp_path_factory.mktemp("residency-keys") / "key.pem")


GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def gateway_factory(residency_key: rsa.RSAPrivateKey) -> AsyncIterator[GatewayFactory]:
    async with contextlib.AsyncExitStack() as stack:

        async def start(urls: dict[str, str], **changes: object) -> Gateway:
            """`urls`: jurisdiction -> database URL (CLOSED: down); `changes`: settings."""
            engines: dict[str, AsyncEngine | None] = {}
            for jurisdiction, url in urls.items():
                if url == CLOSED:
                    engines[jurisdiction] = None
                    continue
                engine = create_engine(url)
                stack.push_async_callback(engine.dispose)
                engines[jurisdiction] = engine
            invoicing_app = create_invoicing_app(token=INVOICING_TOKEN)
            payments_app = create_payments_app(token=PAYMENTS_TOKEN)
            transports: dict[str, httpx.AsyncBaseTransport] = {
                "invoicing": httpx.ASGITransport(app=invoicing_app),
                "payments": httpx.ASGITransport(app=payments_app),
                "idp": httpx.ASGITransport(app=create_idp_app(residency_key)),
            }
            # DATABASE_URL itself is down: every record must go to its region's database.
            settings = saga_settings(
                CLOSED,
                database_url_gb=urls["GB"],
                database_url_in=urls["IN"],
                metrics_token="residency-metrics",
                **changes,
            )
            app = create_app(settings, transports=transports)
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=60
                )
            )
            token = mint_token(
                residency_key,
                issuer=ISSUER,
                audience=AUDIENCE,
                subject=SUBJECT,
                memberships=[(GB_BUSINESS_ID, Role.OWNER), (IN_BUSINESS_ID, Role.OWNER)],
            )
            return Gateway(
                client,
                Sandbox(INVOICING_TOKEN, app=invoicing_app),
                Sandbox(PAYMENTS_TOKEN, app=payments_app),
                token,
                engines,
                settings,
                transports,
            )

        yield start
