"""Service-token auth: every operation of both contracts, before any other check."""

from __future__ import annotations

import httpx
import pytest

from sandbox.seed import GB_OPEN_INVOICE_ID, SUCCEEDED_PAYMENT_ID
from tests.sandbox.conftest import Apps
from tests.sandbox.contract import Contract
from tests.sandbox.helpers import assert_error

EXAMPLE_PATHS = {"{invoice_id}": GB_OPEN_INVOICE_ID, "{payment_id}": SUCCEEDED_PAYMENT_ID}


def operations(name: str) -> list[tuple[str, str]]:
    found = []
    for op in Contract.load(name).operations:
        path = op.template
        for placeholder, value in EXAMPLE_PATHS.items():
            path = path.replace(placeholder, value)
        found.append((op.method.upper(), path))
    return found


BAD_AUTH = [
    pytest.param({}, id="missing"),
    pytest.param({"Authorization": "Bearer wrong-token"}, id="wrong"),
    pytest.param({"Authorization": "Bearer sandbox-test-token-and-more"}, id="longer"),
    pytest.param({"Authorization": "Basic sandbox-test-token"}, id="other-scheme"),
    pytest.param({"Authorization": "sandbox-test-token"}, id="no-scheme"),
    pytest.param({"Authorization": "Bearer  sandbox-test-token"}, id="two-spaces"),
    pytest.param({"Authorization": "Bearer"}, id="no-token"),
]


@pytest.mark.parametrize(("method", "path"), operations("invoicing"))
@pytest.mark.parametrize("auth", BAD_AUTH)
async def test_invoicing_refuses_a_bad_token_before_anything_else(
    invoicing: httpx.AsyncClient, method: str, path: str, auth: dict[str, str]
) -> None:
    # given a request that is also invalid in every other way (no actor, bad body)
    invoicing.headers.pop("Authorization")
    # when
    response = await invoicing.request(method, path, headers=auth, content=b"not json")
    # then
    assert_error(response, 401, "authentication_error", "unauthenticated", None)


@pytest.mark.parametrize(("method", "path"), operations("payments"))
@pytest.mark.parametrize("auth", BAD_AUTH)
async def test_payments_refuses_a_bad_token_before_anything_else(
    payments: httpx.AsyncClient, method: str, path: str, auth: dict[str, str]
) -> None:
    payments.headers.pop("Authorization")
    response = await payments.request(method, path, headers=auth, content=b"not json")
    assert_error(response, 401, "authentication_error", "unauthenticated", None)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/_sandbox/faults"),
        ("PUT", "/_sandbox/faults"),
        ("DELETE", "/_sandbox/faults"),
        ("GET", "/_sandbox/calls"),
        ("DELETE", "/_sandbox/calls"),
        ("POST", "/_sandbox/reset"),
    ],
)
async def test_admin_endpoints_need_the_service_token(
    payments: httpx.AsyncClient, method: str, path: str
) -> None:
    payments.headers["Authorization"] = "Bearer nope"
    response = await payments.request(method, path, json={})
    assert_error(response, 401, "authentication_error", "unauthenticated", None)


async def test_the_token_of_one_service_is_not_valid_on_another(apps: Apps) -> None:
    # given an invoicing sandbox with its own token
    app = apps.invoicing(token="invoicing-only")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://invoicing.test",
        event_hooks=Contract.load("invoicing").event_hooks(),
    ) as client:
        # when called with another service's token, then with its own
        refused = await client.get(
            "/v1/businesses?ids=biz_GBdemo",
            headers={"Authorization": "Bearer sandbox-test-token"},
        )
        accepted = await client.get(
            "/v1/businesses?ids=biz_GBdemo", headers={"Authorization": "Bearer invoicing-only"}
        )
    # then
    assert_error(refused, 401, "authentication_error", "unauthenticated", None)
    assert accepted.status_code == 200


async def test_the_scheme_is_case_insensitive(invoicing: httpx.AsyncClient) -> None:
    response = await invoicing.get(
        "/v1/businesses?ids=biz_GBdemo", headers={"Authorization": "bearer sandbox-test-token"}
    )
    assert response.status_code == 200
