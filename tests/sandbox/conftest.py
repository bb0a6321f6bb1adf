"""Fixtures: fresh, seeded sandbox apps per test and contract-checked clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from sandbox.invoicing import create_invoicing_app
from sandbox.payments import create_payments_app
from tests.sandbox.contract import ContractTransport

TOKEN = "sandbox-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def contract_client(app: Starlette, contract: str, base_url: str) -> httpx.AsyncClient:
    """A client whose every response is validated against `contract`."""
    return httpx.AsyncClient(
        transport=ContractTransport(httpx.ASGITransport(app=app), contract),
        base_url=base_url,
        headers=AUTH,
    )


class Apps:
    """Builds sandbox apps for one test and closes their databases afterwards."""

    def __init__(self) -> None:
        self.built: list[Starlette] = []

    def track(self, app: Starlette) -> Starlette:
        self.built.append(app)
        return app

    def invoicing(self, **kwargs: Any) -> Starlette:
        return self.track(create_invoicing_app(**{"token": TOKEN, **kwargs}))

    def payments(self, **kwargs: Any) -> Starlette:
        return self.track(create_payments_app(**{"token": TOKEN, **kwargs}))

    def close(self) -> None:
        for app in self.built:
            app.state.sandbox.close()


@pytest.fixture
def apps() -> Iterator[Apps]:
    built = Apps()
    yield built
    built.close()


@pytest.fixture
def invoicing_app(apps: Apps) -> Starlette:
    return apps.invoicing()


@pytest.fixture
def payments_app(apps: Apps) -> Starlette:
    return apps.payments()


@pytest.fixture
async def invoicing(invoicing_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with contract_client(invoicing_app, "invoicing", "http://invoicing.test") as client:
        yield client


@pytest.fixture
async def payments(payments_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with contract_client(payments_app, "payments", "http://payments.test") as client:
        yield client


@pytest.fixture
def clients(
    invoicing: httpx.AsyncClient, payments: httpx.AsyncClient
) -> dict[str, httpx.AsyncClient]:
    """Both services' checked clients, by name, for tests parametrized over either."""
    return {"invoicing": invoicing, "payments": payments}
