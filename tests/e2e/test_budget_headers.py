"""Every answer tells the caller what the request cost and what is left of its budget
(RateLimit-Policy, RateLimit: the IETF draft's fields; Request-Cost), so a client can pace
itself before a 429 (app/http/budget.py)."""

from __future__ import annotations

import httpx

from app.auth.principal import Role
from sandbox.seed import GB_BUSINESS_ID
from tests.clock import FakeClock
from tests.e2e.conftest import GatewayFactory, TokenFactory, graphql
from tests.e2e.rate_limit_helpers import THREE_ROOTS, VIEWER_QUERY


def budget(response: httpx.Response) -> tuple[str, str, str]:
    headers = response.headers
    return headers["ratelimit-policy"], headers["ratelimit"], headers["request-cost"]


async def test_each_answer_shows_its_cost_and_what_is_left(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    # given a bucket of 100 tokens refilled at 2 a second (full again in 50 s)
    clock = FakeClock()
    gateway = await gateway_factory(
        clock=clock, rate_limit_capacity=100, rate_limit_refill_per_second=2
    )
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    # when a request of cost 1, then one of cost 3, then after 1 s one of cost 1
    viewer = await graphql(gateway, VIEWER_QUERY, token)
    three = await graphql(gateway, THREE_ROOTS, token)
    clock.advance(1)
    later = await graphql(gateway, VIEWER_QUERY, token)

    # then each shows its charge, the tokens left and the seconds until full
    assert budget(viewer) == ('"caller";q=100;w=50', '"caller";r=99;t=1', "1")
    assert budget(three) == ('"caller";q=100;w=50', '"caller";r=96;t=2', "3")
    assert budget(later) == ('"caller";q=100;w=50', '"caller";r=97;t=2', "1")


async def test_a_refused_request_is_charged_nothing_and_says_when_to_come_back(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    clock = FakeClock()
    gateway = await gateway_factory(
        clock=clock, rate_limit_capacity=3, rate_limit_refill_per_second=1
    )
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])
    await graphql(gateway, VIEWER_QUERY, token)

    refused = await graphql(gateway, THREE_ROOTS, token)

    assert refused.status_code == 429
    assert budget(refused) == ('"caller";q=3;w=3', '"caller";r=2;t=1', "0")
    assert refused.headers["retry-after"] == "1"


async def test_a_malformed_request_is_charged_and_says_so(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    response = await gateway.post(
        "/graphql",
        content=b"{nope",
        headers={"Authorization": f"Bearer {token_for()}", "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.headers["request-cost"] == "1"
    assert response.headers["ratelimit"] == '"caller";r=999;t=1'


async def test_a_request_without_a_valid_token_shows_its_address_budget(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await gateway_factory(
        rate_limit_unauthenticated_capacity=5, rate_limit_unauthenticated_refill_per_second=0.5
    )

    response = await graphql(gateway, VIEWER_QUERY, "not.a.jwt")

    assert response.status_code == 401
    assert budget(response) == ('"address";q=5;w=10', '"address";r=4;t=2', "1")


async def test_a_browser_app_may_read_the_budget(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    origin = "https://app.example.com"
    gateway = await gateway_factory(cors_origins=origin)

    response = await graphql(gateway, VIEWER_QUERY, token_for(), headers={"Origin": origin})

    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert {"ratelimit", "ratelimit-policy", "request-cost", "retry-after"} <= exposed
