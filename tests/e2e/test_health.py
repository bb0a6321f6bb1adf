"""Liveness and readiness: ready only when the database and both services answer; the
checks and circuits only for an operator (METRICS_TOKEN in production)."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import GatewayFactory

METRICS_TOKEN = "metrics-test-token"
OPERATOR = {"Authorization": f"Bearer {METRICS_TOKEN}"}


async def test_healthz_answers_without_credentials(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_ready_when_everything_answers(gateway_factory: GatewayFactory) -> None:
    gateway = await gateway_factory(metrics_token=METRICS_TOKEN)

    response = await gateway.get("/readyz", headers=OPERATOR)

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "invoicing": "ok", "payments": "ok"},
        "circuits": {"invoicing": "closed", "payments": "closed"},
    }
    assert response.headers["cache-control"] == "no-store"


async def test_readyz_is_503_when_the_database_is_down(gateway_factory: GatewayFactory) -> None:
    # Given a gateway whose PostgreSQL does not listen (production: no migration at start)
    gateway = await gateway_factory(
        database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none", metrics_token=METRICS_TOKEN
    )

    response = await gateway.get("/readyz", headers=OPERATOR)

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
        },
        metrics_token=METRICS_TOKEN,
    )

    response = await gateway.get("/readyz", headers=OPERATOR)

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "invoicing": "unreachable", "payments": "timeout"},
        "circuits": {"invoicing": "closed", "payments": "closed"},
    }
    assert "invoicing.test" not in response.text


async def test_readyz_reports_a_refused_service_token(gateway_factory: GatewayFactory) -> None:
    gateway = await gateway_factory(
        payments_token="not-the-right-token", metrics_token=METRICS_TOKEN
    )

    response = await gateway.get("/readyz", headers=OPERATOR)

    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "ok",
        "invoicing": "ok",
        "payments": "service token refused",
    }


async def test_readyz_reports_a_downstream_error_status(gateway_factory: GatewayFactory) -> None:
    gateway = await gateway_factory(
        transports={"invoicing": httpx.MockTransport(lambda _r: httpx.Response(502))},
        metrics_token=METRICS_TOKEN,
    )

    response = await gateway.get("/readyz", headers=OPERATOR)

    assert response.status_code == 503
    assert response.json()["checks"]["invoicing"] == "answered 502"


async def test_readyz_shows_anyone_else_the_status_alone(
    gateway: httpx.AsyncClient, gateway_factory: GatewayFactory
) -> None:
    # given a gateway with no operator token, and one whose payments service is down
    down = await gateway_factory(
        transports={"payments": httpx.MockTransport(_refusing)}, metrics_token=METRICS_TOKEN
    )

    # when callers without the operator token ask
    ready = await gateway.get("/readyz")
    unavailable = await down.get("/readyz")
    guessed = await down.get("/readyz", headers={"Authorization": "Bearer guess"})

    # then each learns whether it is ready, and nothing of what is failing
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    assert (unavailable.status_code, unavailable.json()) == (503, {"status": "unavailable"})
    assert (guessed.status_code, guessed.json()) == (503, {"status": "unavailable"})
    assert unavailable.headers["cache-control"] == "no-store"
