"""What production tells a caller, against development: introspection only with a valid
token, no "Did you mean ...?" suggestions, GraphiQL only when enabled, and an unexpected
error masked to a generic message with the request id (the details in the log only)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from app.auth.principal import Role
from sandbox.seed import GB_BUSINESS_ID
from tests.e2e.conftest import Downstreams, GatewayFactory, TokenFactory, graphql

INTROSPECTION = "{ __schema { queryType { name } types { name } } }"


# -- introspection: a valid token first ---------------------------------------------------


@pytest.mark.parametrize("token", [None, "not.a.jwt"], ids=["no token", "invalid token"])
async def test_introspection_without_a_valid_token_is_401_before_parsing(
    gateway: httpx.AsyncClient, downstreams: Downstreams, token: str | None
) -> None:
    response = await graphql(gateway, INTROSPECTION, token)

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert "data" not in response.json()


@pytest.mark.parametrize("app_env", ["production", "development"])
async def test_introspection_with_a_valid_token_answers(
    gateway_factory: GatewayFactory, token_for: TokenFactory, app_env: str
) -> None:
    gateway = await gateway_factory(app_env=app_env)

    response = await graphql(gateway, INTROSPECTION, token_for([]))

    schema = response.json()["data"]["__schema"]
    assert schema["queryType"] == {"name": "Query"}
    assert {"name": "Invoice"} in schema["types"]


async def test_a_partner_token_may_introspect(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)], scopes=["invoices:read"])

    response = await graphql(gateway, INTROSPECTION, token)

    assert response.json()["data"]["__schema"]["queryType"] == {"name": "Query"}


# -- suggestions: none in production -----------------------------------------------------

FOUND = '{ idempotencyKey: "k", businessId: "biz_GBdemo", nam: "x" }'
MISSING_NAME = (
    "Expected value of type 'CreateCustomerInput' to include required field 'name', "
    f"found: {FOUND}."
)
# (query, variables, what production says, what development says)
SUGGESTION_CASES: list[tuple[str, dict[str, Any], list[str], list[str]]] = [
    (
        "{ viewer { idd } }",
        {},
        ["Cannot query field 'idd' on type 'Viewer'."],
        ["Cannot query field 'idd' on type 'Viewer'. Did you mean 'id'?"],
    ),
    (
        '{ business(idd: "biz_GBdemo") { name } }',
        {},
        [
            "Unknown argument 'idd' on field 'Query.business'.",
            "Argument 'Query.business(id:)' of type 'ID!' is required, but it was not provided.",
        ],
        [
            "Unknown argument 'idd' on field 'Query.business'. Did you mean 'id'?",
            "Argument 'Query.business(id:)' of type 'ID!' is required, but it was not provided.",
        ],
    ),
    (
        '{ business(id: "biz_GBdemo") { invoices(status: PAYD) { edges { node { id } } } } }',
        {},
        ["Value 'PAYD' does not exist in 'InvoiceStatus' enum."],
        [
            "Value 'PAYD' does not exist in 'InvoiceStatus' enum. "
            "Did you mean the enum value 'PAID'?"
        ],
    ),
    (
        "query($s: InvoiceStatu) { viewer { id } }",
        {},
        ["Variable '$s' is never used.", "Unknown type 'InvoiceStatu'."],
        [
            "Variable '$s' is never used.",
            "Unknown type 'InvoiceStatu'. Did you mean 'InvoiceStatus', 'InvoiceUpdate', "
            "'Invoice', 'InvoiceChange', or 'InvoiceEdge'?",
        ],
    ),
    (
        'mutation { createCustomer(input: {idempotencyKey: "k", businessId: "biz_GBdemo", '
        'nam: "x"}) { replayed } }',
        {},
        [
            MISSING_NAME,
            "Expected value of type 'CreateCustomerInput' not to include unknown field 'nam', "
            f"found: {FOUND}.",
        ],
        [
            MISSING_NAME,
            "Expected value of type 'CreateCustomerInput' not to include unknown field 'nam'. "
            f"Did you mean 'name'? Found: {FOUND}.",
        ],
    ),
    (
        'query($s: InvoiceStatus) { business(id: "biz_GBdemo") { invoices(status: $s) '
        "{ edges { node { id } } } } }",
        {"s": "PAYD"},
        ["Variable '$s' has invalid value: Value 'PAYD' does not exist in 'InvoiceStatus' enum."],
        [
            "Variable '$s' has invalid value: Value 'PAYD' does not exist in 'InvoiceStatus' "
            "enum. Did you mean the enum value 'PAID'?"
        ],
    ),
]
CASE_IDS = ["field", "argument", "enum literal", "type", "input field", "enum variable"]


@pytest.mark.parametrize(
    ("query", "variables", "production", "development"), SUGGESTION_CASES, ids=CASE_IDS
)
async def test_production_errors_suggest_nothing(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    downstreams: Downstreams,
    query: str,
    variables: dict[str, Any],
    production: list[str],
    development: list[str],
) -> None:
    response = await graphql(gateway, query, token_for([(GB_BUSINESS_ID, Role.OWNER)]), variables)

    assert [error["message"] for error in response.json()["errors"]] == production
    assert await downstreams.calls("invoicing") == []


@pytest.mark.parametrize(
    ("query", "variables", "production", "development"), SUGGESTION_CASES, ids=CASE_IDS
)
async def test_development_errors_suggest_names(
    gateway_factory: GatewayFactory,
    token_for: TokenFactory,
    query: str,
    variables: dict[str, Any],
    production: list[str],
    development: list[str],
) -> None:
    gateway = await gateway_factory(app_env="development")

    response = await graphql(gateway, query, token_for([(GB_BUSINESS_ID, Role.OWNER)]), variables)

    assert [error["message"] for error in response.json()["errors"]] == development


# -- GraphiQL: off in production unless enabled ---------------------------------------------


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({}, 404),
        ({"graphiql_enabled": "false"}, 404),
        ({"graphiql_enabled": "true"}, 200),
        ({"app_env": "development"}, 200),
        ({"app_env": "development", "graphiql_enabled": "false"}, 404),
    ],
    ids=["production", "production off", "production on", "development", "development off"],
)
async def test_graphiql_is_served_only_where_enabled(
    gateway_factory: GatewayFactory, changes: dict[str, str], status: int
) -> None:
    gateway = await gateway_factory(**changes)

    response = await gateway.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == status
    assert ("graphiql" in response.text.lower()) is (status == 200)


# -- unexpected errors: masked, with the request id ----------------------------------------


class ExplodingTransport(httpx.AsyncBaseTransport):
    """A downstream whose client fails in a way nobody planned for."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError("secret detail: postgres://admin:hunter2@db.internal/ledger")


async def test_an_unexpected_exception_is_masked_and_logged_with_the_request_id(
    gateway_factory: GatewayFactory, token_for: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = await gateway_factory(transports={"invoicing": ExplodingTransport()})
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])
    query = f'{{ business(id: "{GB_BUSINESS_ID}") {{ name }} }}'

    with caplog.at_level(logging.ERROR, logger="gateway.errors"):
        response = await graphql(gateway, query, token, headers={"X-Request-Id": "req-mask-0001"})

    assert response.status_code == 200
    assert response.json() == {
        "data": {"business": None},
        "errors": [
            {
                "message": "Internal error. Reference: req-mask-0001",
                "locations": [{"line": 1, "column": 3}],
                "path": ["business"],
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-mask-0001"},
            }
        ],
    }
    assert "hunter2" not in response.text
    [record] = [r for r in caplog.records if r.getMessage() == "unexpected error"]
    assert record.__dict__["request_id"] == "req-mask-0001"
    assert record.exc_info is not None
    assert "hunter2" in str(record.exc_info[1])
