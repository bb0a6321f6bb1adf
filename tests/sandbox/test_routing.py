"""Requests outside the contracts still get the error envelope (and a contract note)."""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox.conftest import AUTH, Apps
from tests.sandbox.contract import ContractTransport
from tests.sandbox.helpers import assert_error


@pytest.mark.parametrize(
    ("method", "path", "status", "error_type", "code"),
    [
        ("GET", "/v1/nothing", 404, "not_found_error", "resource_missing"),
        ("DELETE", "/v1/payments", 405, "invalid_request_error", "invalid_request"),
        ("PUT", "/v1/payments/pay_GB0001", 405, "invalid_request_error", "invalid_request"),
    ],
)
async def test_unknown_paths_and_methods(
    apps: Apps, method: str, path: str, status: int, error_type: str, code: str
) -> None:
    # given a lenient checking transport: these operations are not in the contract
    transport = ContractTransport(
        httpx.ASGITransport(app=apps.payments()), "payments", strict=False
    )
    async with httpx.AsyncClient(
        transport=transport, base_url="http://payments.test", headers=AUTH
    ) as client:
        # when
        response = await client.request(method, path)
    # then the envelope is still the README's, and the checker noted the stray operation
    assert_error(response, status, error_type, code, None)
    assert [str(v) for v in transport.violations] == [f"payments: no operation {method} {path}"]


async def test_an_unknown_path_needs_the_token_first(apps: Apps) -> None:
    transport = ContractTransport(
        httpx.ASGITransport(app=apps.invoicing()), "invoicing", strict=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://invoicing.test") as client:
        response = await client.get("/v1/nothing")
    assert_error(response, 401, "authentication_error", "unauthenticated", None)
