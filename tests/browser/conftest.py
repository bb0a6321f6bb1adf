"""The running stack the browser talks to, started once for the module and always
stopped: sandbox services and identity provider, a production gateway that enables
GraphiQL, and a development gateway that pre-fills it with a demo token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import pytest
import pytest_asyncio

from app.auth.principal import Role
from app.db import migrate
from app.db.engine import create_engine
from sandbox.devkeys import load_or_create_private_key, mint_token
from sandbox.seed import GB_BUSINESS_ID
from tests.browser.stack import (
    AUDIENCE,
    DEMO_SUBJECT,
    INVOICING_TOKEN,
    ISSUER,
    PAYMENTS_TOKEN,
    Stack,
)
from tests.mutations.helpers import Sandbox
from tests.mutations.processes import (
    Process,
    Processes,
    start_gateway,
    start_idp,
    start_sandbox,
    wait_ready,
)


async def _ready_sandbox(processes: Processes, service: str, token: str) -> str:
    process, url = await start_sandbox(processes, service, token)
    await wait_ready(process, f"{url}/_sandbox/faults", Sandbox(token, base_url=url).auth())
    return url


async def _ready_gateway(processes: Processes, name: str, settings: Mapping[str, str]) -> str:
    process: Process
    process, url = await start_gateway(processes, name, settings)
    await wait_ready(process, f"{url}/readyz")
    return url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def graphiql_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp_path = tmp_path_factory.mktemp("browser-stack")
    production_db = f"sqlite+aiosqlite:///{tmp_path / 'production.db'}"
    engine = create_engine(production_db)
    try:
        await migrate.upgrade(engine)  # production never migrates on start
    finally:
        await engine.dispose()
    key_path = tmp_path / "idp-key.pem"
    signing_key = load_or_create_private_key(key_path)
    processes = Processes(tmp_path)
    try:
        idp, idp_url = await start_idp(processes, key_path)
        invoicing_url, payments_url, _ = await asyncio.gather(
            _ready_sandbox(processes, "invoicing", INVOICING_TOKEN),
            _ready_sandbox(processes, "payments", PAYMENTS_TOKEN),
            wait_ready(idp, f"{idp_url}/.well-known/jwks.json"),
        )
        common = {
            "INVOICING_URL": invoicing_url,
            "INVOICING_TOKEN": INVOICING_TOKEN,
            "PAYMENTS_URL": payments_url,
            "PAYMENTS_TOKEN": PAYMENTS_TOKEN,
            "JWT_ISSUER": ISSUER,
            "JWT_AUDIENCE": AUDIENCE,
            "JWT_JWKS_URL": f"{idp_url}/.well-known/jwks.json",
            "JWT_ALGORITHMS": "RS256",
        }
        demo_token = mint_token(
            signing_key,
            issuer=ISSUER,
            audience=AUDIENCE,
            subject=DEMO_SUBJECT,
            memberships=[(GB_BUSINESS_ID, Role.OWNER)],
        )
        production_url, development_url = await asyncio.gather(
            _ready_gateway(
                processes,
                "gateway-production",
                {
                    **common,
                    "APP_ENV": "production",
                    "GRAPHIQL_ENABLED": "true",
                    "DATABASE_URL": production_db,
                },
            ),
            _ready_gateway(
                processes,
                "gateway-development",
                {
                    **common,
                    "APP_ENV": "development",
                    "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'development.db'}",
                    "GRAPHIQL_DEMO_TOKEN": demo_token,
                },
            ),
        )
        yield Stack(production_url, development_url, signing_key)
    finally:
        await processes.stop_all()
