"""Liveness and readiness: ready only when the database and both services answer."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import GatewayFactory


async def test_healthz_answers_without_credentials(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_ready_when_everything_answers(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "invoicing": "ok", "payments": "ok"},
        "circuits": {"invoicing": "closed", "payments": "closed"},
    }
    assert response.headers["cache-control"] == "no-store"


async def test_readyz_is_503_when_the_database_is_down(gateway_factory: GatewayFactory) -> None:
    # Given a gateway whose PostgreSQL does not listen (production: no migration at start)
    gateway = await gateway_factory(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none")

    response = await gateway.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "unreachable", "invoicing": "ok", "payments": "ok"},
        "circuits": {"invoicing": "closed", "payments": "closed"},
    }


def _refusing(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _slow(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


async def test_readyz_names_each_unavailable_service_without_leaking_details(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await gateway_factory(
        transports={
            "invoicing": httpx.MockTransport(_refusing),
            "payments": httpx.MockTransport(_slow),
        }
    )

    response = await gateway.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "invoicing": "unreachable", "payments": "timeout"},
        "circuits": {"invoicing": "closed", "payments": "closed"},
    }
    assert "invoicing.test" not in response.text


async def test_readyz_reports_a_refused_service_token(gateway_factory: GatewayFactory) -> None:
    gateway = await gateway_factory(payments_token="not-the-right-token")

    response = await gateway.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "ok",
        "invoicing": "ok",
        "payments": "service token refused",
    }


async def test_readyz_reports_a_downstream_error_status(gateway_factory: GatewayFactory) -> None:
    gateway = await gateway_factory(
        transports={"invoicing": httpx.MockTransport(lambda _r: httpx.Response(502))}
    )

    response = await gateway.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["invoicing"] == "answered 502"
