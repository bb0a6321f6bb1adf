"""Rate limits at the /graphql door, in production settings: a budget per token subject,
weighted by the request, and a budget per client address that failed authentication
spends. Over budget: HTTP 429, Retry-After, RATE_LIMITED, and nothing runs downstream."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Protocol

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from graphql import get_introspection_query

from app.auth.principal import Role
from sandbox.devkeys import mint_token
from sandbox.seed import GB_BUSINESS_ID
from tests.clock import FakeClock
from tests.e2e.conftest import (
    AUDIENCE,
    ISSUER,
    Downstreams,
    GatewayFactory,
    TokenFactory,
    graphql,
)
from tests.e2e.rate_limit_helpers import (
    BUSINESS_QUERY,
    BUSINESS_VARIABLES,
    THREE_ROOTS,
    VIEWER_QUERY,
    downstream_calls,
    rate_limited,
)
from tests.e2e.test_dashboard import DASHBOARD as DASHBOARD_QUERY
from tests.e2e.test_viewer_and_auth import INVALID_TOKEN


@pytest.fixture
def owner(token_for: TokenFactory) -> str:
    return token_for([(GB_BUSINESS_ID, Role.OWNER)], subject="user_owner")


async def business(gateway: httpx.AsyncClient, token: str) -> httpx.Response:
    return await graphql(gateway, BUSINESS_QUERY, token, BUSINESS_VARIABLES)


def bad_request(message: str) -> dict[str, object]:
    return {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}


def assert_rate_limited(response: httpx.Response, seconds: int) -> None:
    assert response.status_code == 429
    assert response.headers["retry-after"] == str(seconds)
    assert response.json() == rate_limited(seconds)


async def test_a_caller_over_budget_gets_429_until_the_bucket_refills(
    gateway_factory: GatewayFactory, owner: str, downstreams: Downstreams
) -> None:
    clock = FakeClock()
    gateway = await gateway_factory(
        clock=clock, rate_limit_capacity=3, rate_limit_refill_per_second=0.5
    )
    admitted = [await business(gateway, owner) for _ in range(3)]
    calls_before = await downstream_calls(downstreams)

    refused = await business(gateway, owner)
    again = await business(gateway, owner)

    assert [r.status_code for r in admitted] == [200, 200, 200]
    assert all("errors" not in r.json() for r in admitted)
    assert_rate_limited(refused, 2)
    assert_rate_limited(again, 2)  # a refusal costs nothing: the wait does not grow
    assert await downstream_calls(downstreams) == calls_before

    clock.advance(2)
    recovered = await business(gateway, owner)
    assert recovered.status_code == 200
    assert recovered.json()["data"]["business"]["id"] == GB_BUSINESS_ID
    assert_rate_limited(await business(gateway, owner), 2)


async def test_each_subject_has_its_own_budget(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    gateway = await gateway_factory(rate_limit_capacity=1, rate_limit_refill_per_second=0.01)
    alice, bob = token_for(subject="alice"), token_for(subject="bob")

    assert (await graphql(gateway, VIEWER_QUERY, alice)).status_code == 200
    assert_rate_limited(await graphql(gateway, VIEWER_QUERY, alice), 100)

    bob_answer = await graphql(gateway, VIEWER_QUERY, bob)
    assert bob_answer.json() == {"data": {"viewer": {"id": "bob"}}}
    # A second token for the same subject shares its budget.
    assert_rate_limited(await graphql(gateway, VIEWER_QUERY, token_for(subject="alice")), 100)


async def test_a_request_costs_its_documents_worst_case_downstream_calls(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    clock = FakeClock()
    gateway = await gateway_factory(
        clock=clock, rate_limit_capacity=5, rate_limit_refill_per_second=1
    )
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    first = await graphql(gateway, THREE_ROOTS, token)
    second = await graphql(gateway, THREE_ROOTS, token)  # 2 left, 3 needed
    single = await graphql(gateway, VIEWER_QUERY, token)

    assert first.json()["data"]["c"] == {"id": GB_BUSINESS_ID}
    assert_rate_limited(second, 1)
    assert single.status_code == 200
    clock.advance(2)
    assert (await graphql(gateway, THREE_ROOTS, token)).status_code == 200


async def test_a_request_costs_at_most_the_whole_budget_so_it_can_run(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    clock = FakeClock()
    gateway = await gateway_factory(
        clock=clock, rate_limit_capacity=2, rate_limit_refill_per_second=1
    )
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    assert (await graphql(gateway, THREE_ROOTS, token)).status_code == 200
    assert_rate_limited(await graphql(gateway, VIEWER_QUERY, token), 1)
    clock.advance(2)
    assert (await graphql(gateway, THREE_ROOTS, token)).status_code == 200


async def test_malformed_and_invalid_requests_are_charged_too(
    gateway_factory: GatewayFactory, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    gateway = await gateway_factory(rate_limit_capacity=3, rate_limit_refill_per_second=0.01)
    token = token_for()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    not_json = await gateway.post("/graphql", content=b"{nope", headers=headers)
    no_query = await gateway.post("/graphql", json={"variables": {}}, headers=headers)
    invalid = await graphql(gateway, "{ viewer { nope } }", token)
    refused = await graphql(gateway, VIEWER_QUERY, token)

    assert (not_json.status_code, not_json.json()) == (
        400,
        bad_request("The request body is not valid JSON."),
    )
    assert (no_query.status_code, no_query.json()) == (
        400,
        bad_request("No GraphQL query found in the request"),
    )
    assert invalid.json()["errors"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert_rate_limited(refused, 100)
    assert await downstream_calls(downstreams) == []


async def test_a_body_that_is_not_utf8_is_charged_too(
    gateway_factory: GatewayFactory, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    gateway = await gateway_factory(rate_limit_capacity=2, rate_limit_refill_per_second=0.01)
    token = token_for()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    bad = [await gateway.post("/graphql", content=b'{"query": "\xff"}', headers=headers)]
    bad.append(await gateway.post("/graphql", content=b'{"query": "\xff"}', headers=headers))
    refused = await graphql(gateway, VIEWER_QUERY, token)

    assert [(r.status_code, r.json()) for r in bad] == [
        (400, bad_request("The request body is not valid UTF-8."))
    ] * 2
    assert_rate_limited(refused, 100)
    assert await downstream_calls(downstreams) == []


async def test_an_introspection_is_charged_what_it_costs(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    gateway = await gateway_factory(rate_limit_capacity=300, rate_limit_refill_per_second=0.01)
    token = token_for()
    introspection = get_introspection_query(descriptions=True)

    first = await graphql(gateway, introspection, token)
    second = await graphql(gateway, introspection, token)

    assert first.status_code == 200
    assert_rate_limited(second, 10_000)


async def test_the_default_budget_admits_eighteen_dashboards_then_one_every_few_seconds(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    # given the default budget (1,000 tokens, 10 a second) and the dashboard query at
    # 50 invoices, which costs 55: its worst case in downstream calls
    clock = FakeClock()
    gateway = await gateway_factory(clock=clock)
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])
    assert DASHBOARD_COST == 55

    fifty = {"id": GB_BUSINESS_ID, "first": 50}
    statuses = [
        (await graphql(gateway, DASHBOARD_QUERY, token, fifty)).status_code for _ in range(18)
    ]

    assert statuses == [200] * 18
    # 10 tokens left, 55 needed: 4.5 s at 10 a second, rounded up
    refused = await graphql(gateway, DASHBOARD_QUERY, token, fifty)
    assert_rate_limited(refused, 5)
    clock.advance(5)
    assert (
        await graphql(gateway, DASHBOARD_QUERY, token, {"id": GB_BUSINESS_ID, "first": 50})
    ).status_code == 200


def _dashboard_cost() -> int:
    from graphql import parse

    from app.schema.build import build_schema
    from app.schema.limits.cost import document_cost

    schema = build_schema()._schema
    return document_cost(parse(DASHBOARD_QUERY), {"first": 50}, None, schema)


DASHBOARD_COST = _dashboard_cost()


# -- the address budget: requests without a valid token ------------------------------


async def test_failed_authentication_spends_the_address_budget_and_a_valid_token_still_passes(
    gateway_factory: GatewayFactory, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    clock = FakeClock()
    gateway = await gateway_factory(
        clock=clock,
        rate_limit_unauthenticated_capacity=2,
        rate_limit_unauthenticated_refill_per_second=0.25,
    )

    # given a client that spent its address's budget on bad tokens
    guesses = [await graphql(gateway, VIEWER_QUERY, f"guess-{n}") for n in range(2)]
    blocked_guess = await graphql(gateway, VIEWER_QUERY, "guess-3")
    blocked_missing = await graphql(gateway, VIEWER_QUERY, None)
    # when a colleague behind the same address sends a valid token
    colleague = await graphql(gateway, VIEWER_QUERY, token_for(subject="colleague"))

    # then the bad tokens are refused, and the valid one is served
    assert [(r.status_code, r.json()) for r in guesses] == [(401, INVALID_TOKEN)] * 2
    assert_rate_limited(blocked_guess, 4)
    assert_rate_limited(blocked_missing, 4)
    assert colleague.status_code == 200
    assert colleague.json() == {"data": {"viewer": {"id": "colleague"}}}
    assert await downstream_calls(downstreams) == []

    clock.advance(4)
    assert (await graphql(gateway, VIEWER_QUERY, None)).status_code == 401
    assert_rate_limited(await graphql(gateway, VIEWER_QUERY, None), 4)


async def test_authenticated_requests_do_not_spend_the_address_budget(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    gateway = await gateway_factory(
        rate_limit_unauthenticated_capacity=1,
        rate_limit_unauthenticated_refill_per_second=0.01,
    )
    token = token_for()

    statuses = [(await graphql(gateway, VIEWER_QUERY, token)).status_code for _ in range(5)]

    assert statuses == [200] * 5
    assert (await graphql(gateway, VIEWER_QUERY, None)).status_code == 401
    assert (await graphql(gateway, VIEWER_QUERY, None)).status_code == 429


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    gateway_factory: GatewayFactory,
) -> None:
    limits = {
        "rate_limit_unauthenticated_capacity": 1,
        "rate_limit_unauthenticated_refill_per_second": 0.01,
    }
    direct = await gateway_factory(client=("198.51.100.7", 5000), **limits)

    first = await graphql(direct, VIEWER_QUERY, None, headers={"X-Forwarded-For": "203.0.113.1"})
    spoofed = await graphql(direct, VIEWER_QUERY, None, headers={"X-Forwarded-For": "203.0.113.2"})

    assert first.status_code == 401
    assert spoofed.status_code == 429  # the same peer, whatever it claims


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(
    gateway_factory: GatewayFactory,
) -> None:
    proxied = await gateway_factory(
        client=("10.0.0.5", 5000),
        trusted_proxies="10.0.0.0/8",
        rate_limit_unauthenticated_capacity=1,
        rate_limit_unauthenticated_refill_per_second=0.01,
    )

    async def from_client(address: str, claimed: str = "") -> int:
        chain = f"{claimed}, {address}" if claimed else address
        response = await graphql(proxied, VIEWER_QUERY, None, headers={"X-Forwarded-For": chain})
        return response.status_code

    assert await from_client("203.0.113.1") == 401
    assert await from_client("203.0.113.1") == 429
    assert await from_client("203.0.113.2") == 401
    # A client cannot pass for another by writing its own X-Forwarded-For entry first.
    assert await from_client("203.0.113.1", claimed="203.0.113.99") == 429


# -- processes: separate in memory, shared through Redis ------------------------------


async def test_without_redis_each_gateway_process_has_its_own_buckets(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    limits = {"rate_limit_capacity": 1, "rate_limit_refill_per_second": 0.01}
    first, second = await gateway_factory(**limits), await gateway_factory(**limits)
    token = token_for()

    assert (await graphql(first, VIEWER_QUERY, token)).status_code == 200
    assert (await graphql(first, VIEWER_QUERY, token)).status_code == 429
    assert (await graphql(second, VIEWER_QUERY, token)).status_code == 200


async def test_with_redis_gateway_processes_share_every_budget(
    gateway_factory: GatewayFactory,
    token_for: TokenFactory,
    redis_server_url: str,
    redis_prefix: str,
    downstreams: Downstreams,
) -> None:
    clock = FakeClock()
    shared = {
        "clock": clock,
        "redis_url": redis_server_url,
        "rate_limit_key_prefix": redis_prefix,
        "rate_limit_capacity": 2,
        "rate_limit_refill_per_second": 0.5,
        "rate_limit_unauthenticated_capacity": 1,
        "rate_limit_unauthenticated_refill_per_second": 0.5,
    }
    first, second = await gateway_factory(**shared), await gateway_factory(**shared)
    owner = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    assert (await business(first, owner)).status_code == 200
    assert (await business(second, owner)).status_code == 200
    calls_before = await downstream_calls(downstreams)
    assert_rate_limited(await business(first, owner), 2)
    assert_rate_limited(await business(second, owner), 2)
    assert await downstream_calls(downstreams) == calls_before

    assert (await graphql(first, VIEWER_QUERY, None)).status_code == 401
    assert_rate_limited(await graphql(second, VIEWER_QUERY, None), 2)

    clock.advance(2)
    assert (await business(second, owner)).status_code == 200
    assert (await graphql(second, VIEWER_QUERY, None)).status_code == 401


async def test_when_redis_is_down_each_process_still_limits_and_says_so(
    gateway_factory: GatewayFactory,
    token_for: TokenFactory,
    unused_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gateway = await gateway_factory(
        redis_url=f"redis://127.0.0.1:{unused_port}/0",
        rate_limit_capacity=2,
        rate_limit_refill_per_second=0.01,
    )
    token = token_for()

    with caplog.at_level(logging.WARNING, logger="app.ratelimit.fallback"):
        statuses = [(await graphql(gateway, VIEWER_QUERY, token)).status_code for _ in range(3)]
        # a failed authentication: the address limiter is reached only by those
        failed = await graphql(gateway, VIEWER_QUERY, None)

    assert statuses == [200, 200, 429]
    assert failed.status_code == 401
    warnings = {(r.getMessage(), getattr(r, "limiter", None)) for r in caplog.records}
    assert warnings == {
        ("rate limit store unavailable; limiting in this process only", "address"),
        ("rate limit store unavailable; limiting in this process only", "principal"),
    }


class LruCache(Protocol):
    def cache_info(self) -> functools._CacheInfo: ...


class GatedTransport(httpx.AsyncBaseTransport):
    """Holds every request until released, and says when one is waiting."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.waiting = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.waiting.set()
        await self.release.wait()
        return await self._inner.handle_async_request(request)


async def test_a_failure_already_past_the_address_check_is_charged_when_it_fails(
    gateway_factory: GatewayFactory, downstreams: Downstreams
) -> None:
    # given a forged token whose check waits on the identity provider's key set
    idp = GatedTransport(downstreams.transports()["idp"])
    gateway = await gateway_factory(
        {"idp": idp},
        rate_limit_unauthenticated_capacity=1,
        rate_limit_unauthenticated_refill_per_second=0.01,
    )
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = mint_token(stranger, issuer=ISSUER, audience=AUDIENCE, subject="s", memberships=[])
    slow = asyncio.create_task(graphql(gateway, VIEWER_QUERY, forged))
    await idp.waiting.wait()
    # when another failure spends the address's last token meanwhile
    quick = await graphql(gateway, VIEWER_QUERY, "not-a-jwt")
    idp.release.set()
    # then the slow failure, once it fails, finds no budget left
    assert quick.status_code == 401
    assert_rate_limited(await slow, 100)
