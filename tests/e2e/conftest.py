"""A gateway wired to in-process sandbox services and a test identity provider.

Production mode by default (with test-only URLs and tokens, which the production guards
accept), so tests exercise the configuration that ships.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from opentelemetry.sdk.trace.export import SpanExporter
from starlette.applications import Starlette

from app.auth.principal import Role
from app.core.settings import Settings, load_settings
from app.levers import Levers
from app.main import create_app
from app.ratelimit.limiter import Clock
from sandbox.devkeys import load_or_create_private_key, mint_token
from sandbox.idp import create_idp_app
from sandbox.invoicing import create_invoicing_app
from sandbox.payments import create_payments_app

ISSUER = "https://id.test.example/"
AUDIENCE = "fintech-gateway"
INVOICING_TOKEN = "test-invoicing-token"
PAYMENTS_TOKEN = "test-payments-token"


@pytest.fixture(scope="session")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> rsa.RSAPrivateKey:
    return load_or_create_private_key(tmp_path_factory.mktemp("keys") / "key.pem")


@dataclass
class Downstreams:
    invoicing: Starlette
    payments: Starlette
    idp: Starlette

    def transports(self) -> dict[str, httpx.AsyncBaseTransport]:
        return {
            "invoicing": httpx.ASGITransport(app=self.invoicing),
            "payments": httpx.ASGITransport(app=self.payments),
            "idp": httpx.ASGITransport(app=self.idp),
        }

    async def calls(self, service: str) -> list[dict[str, Any]]:
        app = self.invoicing if service == "invoicing" else self.payments
        token = INVOICING_TOKEN if service == "invoicing" else PAYMENTS_TOKEN
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
        ) as client:
            response = await client.get(
                "/_sandbox/calls", headers={"Authorization": f"Bearer {token}"}
            )
        response.raise_for_status()
        calls: list[dict[str, Any]] = response.json()["data"]
        return calls


@pytest.fixture
def downstreams(signing_key: rsa.RSAPrivateKey) -> Downstreams:
    return Downstreams(
        invoicing=create_invoicing_app(token=INVOICING_TOKEN),
        payments=create_payments_app(token=PAYMENTS_TOKEN),
        idp=create_idp_app(signing_key),
    )


def gateway_settings(database_url: str, **changes: object) -> Settings:
    values: dict[str, object] = {
        "app_env": "production",
        "database_url": database_url,
        "invoicing_url": "https://invoicing.test",
        "invoicing_token": INVOICING_TOKEN,
        "payments_url": "https://payments.test",
        "payments_token": PAYMENTS_TOKEN,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "jwt_jwks_url": "https://idp.test/.well-known/jwks.json",
        "jwt_algorithms": "RS256,ES256",
        "cors_origins": "",
    }
    return load_settings(**{**values, **changes})


GatewayFactory = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def gateway_factory(
    downstreams: Downstreams, tmp_path: Path
) -> AsyncIterator[GatewayFactory]:
    """Starts gateways (lifespan included) with setting overrides; stops them after."""
    from contextlib import AsyncExitStack

    from app.db import migrate
    from app.db.engine import create_engine

    async with AsyncExitStack() as stack:

        async def start(
            transports: dict[str, httpx.AsyncBaseTransport] | None = None,
            *,
            span_exporter: SpanExporter | None = None,
            client: tuple[str, int] = ("127.0.0.1", 123),
            clock: Clock | None = None,
            levers: Levers | None = None,
            **changes: object,
        ) -> httpx.AsyncClient:
            database_url = str(
                changes.pop("database_url", f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
            )
            if database_url.startswith("sqlite"):
                engine = create_engine(database_url)
                await migrate.upgrade(engine)
                await engine.dispose()
            settings = gateway_settings(database_url, **changes)
            app = create_app(
                settings,
                transports={**downstreams.transports(), **(transports or {})},
                span_exporter=span_exporter,
                clock=clock,
                levers=levers or Levers(),
            )
            await stack.enter_async_context(app.router.lifespan_context(app))
            # `client` is the socket peer the gateway sees.
            transport = httpx.ASGITransport(app=app, client=client)
            return await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://gateway")
            )

        yield start


@pytest.fixture
async def gateway(gateway_factory: GatewayFactory) -> httpx.AsyncClient:
    return await gateway_factory()


TokenFactory = Callable[..., str]


@pytest.fixture
def token_for(signing_key: rsa.RSAPrivateKey) -> TokenFactory:
    def make(
        memberships: Sequence[tuple[str, Role]] = (),
        *,
        subject: str = "user_test",
        scopes: Sequence[str] | None = None,
    ) -> str:
        return mint_token(
            signing_key,
            issuer=ISSUER,
            audience=AUDIENCE,
            subject=subject,
            memberships=memberships,
            scopes=scopes,
        )

    return make


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    token: str | None,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    return await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers
    )
