"""The /graphql door: no valid token, nothing runs; a valid one reaches `viewer`."""

from __future__ import annotations

import httpx
import pytest

from app.auth.principal import Role
from sandbox.seed import DEMO_BUSINESS_IDS
from tests.e2e.conftest import Downstreams, GatewayFactory, TokenFactory, graphql

VIEWER_QUERY = "{ viewer { id memberships { role business { id name country defaultCurrency } } } }"


def unauthenticated(message: str) -> dict[str, object]:
    return {"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}


# What production says of any token that does not verify (app/http/unauthenticated.py).
INVALID_TOKEN = unauthenticated("The access token is invalid; get a new one.")


async def test_a_valid_token_reads_the_viewer_and_their_businesses(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    gb, india = DEMO_BUSINESS_IDS[0], DEMO_BUSINESS_IDS[1]
    token = token_for([(gb, Role.OWNER), (india, Role.VIEWER)], subject="user_42")

    response = await graphql(gateway, VIEWER_QUERY, token)

    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body
    viewer = body["data"]["viewer"]
    assert viewer["id"] == "user_42"
    assert [(m["role"], m["business"]["id"]) for m in viewer["memberships"]] == [
        ("OWNER", gb),
        ("VIEWER", india),
    ]
    assert [m["business"]["country"] for m in viewer["memberships"]] == ["GB", "IN"]
    assert [m["business"]["defaultCurrency"] for m in viewer["memberships"]] == ["GBP", "INR"]


async def test_memberships_of_unknown_businesses_are_left_out(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    token = token_for([("biz_doesnotexist", Role.OWNER), (DEMO_BUSINESS_IDS[0], Role.ADMIN)])

    response = await graphql(gateway, VIEWER_QUERY, token)

    memberships = response.json()["data"]["viewer"]["memberships"]
    assert [(m["role"], m["business"]["id"]) for m in memberships] == [
        ("ADMIN", DEMO_BUSINESS_IDS[0])
    ]
    # One batch call for all memberships, however many there are.
    calls = await downstreams.calls("invoicing")
    assert [call["path"] for call in calls] == ["/v1/businesses"]


async def test_a_viewer_without_memberships_makes_no_downstream_call(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    response = await graphql(gateway, VIEWER_QUERY, token_for([]))

    assert response.json() == {"data": {"viewer": {"id": "user_test", "memberships": []}}}
    assert await downstreams.calls("invoicing") == []


async def test_no_token_is_401_with_one_unauthenticated_error_and_nothing_runs(
    gateway: httpx.AsyncClient, downstreams: Downstreams
) -> None:
    response = await graphql(gateway, VIEWER_QUERY, token=None)

    assert response.status_code == 401
    # RFC 6750 3: no error code when no credentials were sent.
    assert response.headers["www-authenticate"] == 'Bearer realm="gateway"'
    assert response.json() == unauthenticated(
        "Authentication required: send Authorization: Bearer <token>."
    )
    assert await downstreams.calls("invoicing") == []


async def test_an_invalid_token_is_401(gateway: httpx.AsyncClient) -> None:
    response = await graphql(gateway, VIEWER_QUERY, token="not.a.jwt")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="gateway", error="invalid_token", '
        'error_description="The access token is invalid; get a new one."'
    )
    assert response.json() == INVALID_TOKEN


async def test_a_token_in_the_query_string_is_not_accepted(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    response = await gateway.post(
        f"/graphql?access_token={token_for([])}", json={"query": VIEWER_QUERY}
    )

    assert response.status_code == 401


async def test_the_request_id_is_returned_and_forwarded_downstream(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    token = token_for([(DEMO_BUSINESS_IDS[0], Role.OWNER)])
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    response = await graphql(
        gateway,
        VIEWER_QUERY,
        token,
        headers={"X-Request-Id": "req-abcdef123", "traceparent": traceparent},
    )

    assert response.headers["x-request-id"] == "req-abcdef123"
    calls = await downstreams.calls("invoicing")
    assert [(c["headers"]["x-request-id"], c["headers"]["traceparent"]) for c in calls] == [
        ("req-abcdef123", traceparent)
    ]


@pytest.mark.parametrize("offered", ["bad id\twith spaces", "abcdefgh\n", "short", "x" * 129])
async def test_a_malformed_request_id_is_replaced(gateway: httpx.AsyncClient, offered: str) -> None:
    response = await gateway.get("/healthz", headers=[(b"X-Request-Id", offered.encode())])

    generated = response.headers["x-request-id"]
    assert generated != offered
    assert len(generated) == 32
    assert generated.isalnum()


@pytest.mark.parametrize(
    "traceparent",
    [
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" + "x" * 4000,
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "garbage",
        "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
    ],
)
async def test_a_malformed_traceparent_is_not_forwarded(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    downstreams: Downstreams,
    traceparent: str,
) -> None:
    token = token_for([(DEMO_BUSINESS_IDS[0], Role.OWNER)])

    response = await graphql(gateway, VIEWER_QUERY, token, headers={"traceparent": traceparent})

    assert response.status_code == 200
    calls = await downstreams.calls("invoicing")
    assert [call["headers"]["traceparent"] for call in calls] == [None]


async def test_graphiql_is_off_in_production(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 404
    assert response.json() == {
        "errors": [{"message": "No page is served here.", "extensions": {"code": "NOT_FOUND"}}]
    }


async def test_graphiql_is_served_in_development(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await gateway_factory(app_env="development")

    response = await gateway.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_queries_over_get_are_refused(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    response = await gateway.get(
        "/graphql",
        params={"query": VIEWER_QUERY},
        headers={"Authorization": f"Bearer {token_for([])}", "Accept": "application/json"},
    )

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {
        "errors": [
            {
                "message": "Send GraphQL requests with POST.",
                "extensions": {"code": "METHOD_NOT_ALLOWED"},
            }
        ]
    }
    assert await downstreams.calls("invoicing") == []
