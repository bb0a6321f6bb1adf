"""An in-process gateway (production settings) on a real database, migrated here, with
in-process sandbox services; plus relays built on the same database and services."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.auth.principal import Role
from app.core.settings import Settings, load_settings
from app.db import migrate
from app.db.engine import create_engine
from app.idempotency.store import IdempotencyStore
from app.main import create_app
from app.mutations.relay import Relay
from app.outbox.store import OutboxStore
from app.wiring.background import build_relay
from app.wiring.resources import open_resources, utc_today
from sandbox.devkeys import load_or_create_private_key, mint_token
from sandbox.idp import create_idp_app
from sandbox.invoicing import create_invoicing_app
from sandbox.payments import create_payments_app
from sandbox.seed import GB_BUSINESS_ID
from tests.mutations.helpers import Sandbox, utcnow

ISSUER = "https://id.saga.test/"
AUDIENCE = "fintech-gateway"
SUBJECT = "user_saga_owner"
INVOICING_TOKEN = "saga-invoicing-token"
PAYMENTS_TOKEN = "saga-payments-token"


@pytest.fixture(scope="session")
def saga_key(tmp_path_factory: pytest.TempPathFactory) -> rsa.RSAPrivateKey:
    return load_or_create_private_key(tmp_path_factory.mktemp("saga-keys") / "key.pem")


def owner_token(key: rsa.RSAPrivateKey, subject: str = SUBJECT) -> str:
    return mint_token(
        key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject=subject,
        memberships=[(GB_BUSINESS_ID, Role.OWNER)],
    )


def saga_settings(database_url: str, **changes: object) -> Settings:
    values: dict[str, object] = {
        "app_env": "production",
        "database_url": database_url,
        "invoicing_url": "https://invoicing.saga.test",
        "invoicing_token": INVOICING_TOKEN,
        "payments_url": "https://payments.saga.test",
        "payments_token": PAYMENTS_TOKEN,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "jwt_jwks_url": "https://idp.saga.test/.well-known/jwks.json",
        "jwt_algorithms": "RS256",
    }
    return load_settings(**{**values, **changes})


@dataclass
class World:
    """One gateway under test and everything around it."""

    client: httpx.AsyncClient
    settings: Settings
    engine: AsyncEngine
    invoicing: Sandbox
    payments: Sandbox
    token: str
    transports: dict[str, httpx.AsyncBaseTransport]
    _stack: contextlib.AsyncExitStack = field(repr=False)

    async def replica(self) -> httpx.AsyncClient:
        """Another gateway over the same database and services, with the default time
        budget: a client's retry may land on any replica, and a retry that is not about the
        budget should not fail because a busy machine stalled it past a tight one."""
        settings = saga_settings(self.settings.database_url)
        app = create_app(settings, transports=self.transports)
        await self._stack.enter_async_context(app.router.lifespan_context(app))
        return await self._stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=60
            )
        )

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    async def relay(
        self, *, outbox_ahead: timedelta, keys_ahead: timedelta = timedelta(0)
    ) -> Relay:
        """A relay as the app builds it (app.wiring.resources.build_relay), on its own
        resources (engine, pool, HTTP clients) over the same database and services, whose
        outbox clock (and, when asked, idempotency clock) runs ahead: rows enqueued with
        the grace are due."""
        (relay,) = await self.relays(1, outbox_ahead=outbox_ahead, keys_ahead=keys_ahead)
        return relay

    async def relays(
        self, count: int, *, outbox_ahead: timedelta, keys_ahead: timedelta = timedelta(0)
    ) -> list[Relay]:
        """`count` relays sharing one set of resources: the same engine and stores."""
        resources = await self._stack.enter_async_context(
            open_resources(self.settings, self.transports)
        )

        def clock(ahead: timedelta) -> Callable[[], datetime]:
            return lambda: utcnow() + ahead

        (region,) = resources.regions.all
        shifted = dataclasses.replace(
            region,
            outbox=OutboxStore(region.engine, clock=clock(outbox_ahead)),
            idempotency=IdempotencyStore(region.engine, clock=clock(keys_ahead)),
        )
        return [build_relay(resources, shifted) for _ in range(count)]


WorldFactory = Callable[..., Awaitable[World]]
# (service name, its transport, the invoicing sandbox, the payments sandbox) -> transport
Wrap = Callable[[str, httpx.AsyncBaseTransport, Sandbox, Sandbox], httpx.AsyncBaseTransport]


@pytest.fixture
async def world_factory(
    saga_key: rsa.RSAPrivateKey, database_url: str
) -> AsyncIterator[WorldFactory]:
    """Starts gateways on `database_url`: a test that takes this fixture runs on SQLite and
    on PostgreSQL. Everything started is stopped before the database is dropped."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(
            *,
            wrap: Wrap | None = None,
            today: Callable[[], date] = utc_today,
            **changes: object,
        ) -> World:
            invoicing_app: Starlette = create_invoicing_app(token=INVOICING_TOKEN)
            payments_app: Starlette = create_payments_app(token=PAYMENTS_TOKEN)
            invoicing = Sandbox(INVOICING_TOKEN, app=invoicing_app)
            payments = Sandbox(PAYMENTS_TOKEN, app=payments_app)
            transports: dict[str, httpx.AsyncBaseTransport] = {
                "invoicing": httpx.ASGITransport(app=invoicing_app),
                "payments": httpx.ASGITransport(app=payments_app),
                "idp": httpx.ASGITransport(app=create_idp_app(saga_key)),
            }
            if wrap is not None:
                transports = {
                    name: wrap(name, t, invoicing, payments) for name, t in transports.items()
                }
            engine = create_engine(database_url)
            stack.push_async_callback(engine.dispose)
            await migrate.upgrade(engine)
            # A test may route the gateway's own connections another way (a cuttable hop).
            settings = saga_settings(str(changes.pop("database_url", database_url)), **changes)
            app = create_app(settings, transports=transports, today=today)
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=60
                )
            )
            return World(
                client=client,
                settings=settings,
                engine=engine,
                invoicing=invoicing,
                payments=payments,
                token=owner_token(saga_key),
                transports=transports,
                _stack=stack,
            )

        yield start
