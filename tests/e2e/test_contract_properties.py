"""Property: the gateway shows whatever any implementation of the contracts may answer.

Worlds of contract-valid objects (generated from the vendored OpenAPI schemas, in every
status, with the documented arithmetic) are served by a small fake of both services
(tests/e2e/contract_world.py); the gateway answers the web dashboard, `nodes` and the
listings with exactly those objects and no error. A contract-breaking object planted in
a listing is left out with one DOWNSTREAM_INVALID_RESPONSE error, the rest shown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, note
from hypothesis import strategies as st

from app.auth.principal import Role
from app.core.ids import is_object_id
from app.db import migrate
from app.db.engine import create_engine
from app.main import create_app
from sandbox.devkeys import mint_token
from tests.downstream.contract_objects import BREAKS, CONTRACT_PROPERTIES, broken
from tests.e2e.conftest import AUDIENCE, ISSUER, Downstreams, gateway_settings, graphql
from tests.e2e.contract_world import (
    NODES_QUERY,
    TODAY,
    ContractServer,
    World,
    dashboard,
    nodes,
    page_of,
    worlds,
)
from tests.e2e.test_broken_values import invalid
from tests.e2e.test_dashboard import DASHBOARD

Gateway = tuple[httpx.AsyncClient, ContractServer]

LISTINGS_QUERY = """
query Listings($id: ID!, $first: Int!) {
  business(id: $id) {
    customers(first: $first) { edges { node { id name } } pageInfo { hasNextPage } }
    payments(first: $first) { edges { node { id status } } pageInfo { hasNextPage } }
  }
}
"""


@pytest.fixture
async def contract_gateway(downstreams: Downstreams, tmp_path: Path) -> AsyncIterator[Gateway]:
    """One gateway for all of a test's examples, in front of the fake contract server."""
    server = ContractServer()
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    engine = create_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    settings = gateway_settings(
        url, rate_limit_capacity=1_000_000, rate_limit_refill_per_second=1_000_000
    )
    transports = {
        **downstreams.transports(),
        "invoicing": server.transport(),
        "payments": server.transport(),
    }
    app = create_app(settings, transports=transports, today=lambda: TODAY)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client,
    ):
        yield client, server


def owner_of(signing_key: rsa.RSAPrivateKey, world: World) -> str:
    return mint_token(
        signing_key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="user_contract",
        memberships=[(world.business_id, Role.OWNER)],
    )


@CONTRACT_PROPERTIES
@given(world=worlds(), first=st.integers(1, 5))
async def test_the_gateway_shows_every_contract_valid_answer(
    contract_gateway: Gateway, signing_key: rsa.RSAPrivateKey, world: World, first: int
) -> None:
    # Given a fake service answering with a world of contract-valid objects
    client, server = contract_gateway
    server.world = world
    note(f"world: {world!r}")
    token = owner_of(signing_key, world)
    variables = {"id": world.business_id, "first": first}

    # When the owner opens the dashboard, asks for every object by id, and lists
    board = (await graphql(client, DASHBOARD, token, variables)).json()
    by_id = (await graphql(client, NODES_QUERY, token, {"ids": world.ids()})).json()
    lists = (await graphql(client, LISTINGS_QUERY, token, variables)).json()

    # Then each answer shows exactly the world, and no error
    assert board == {"data": dashboard(world, first)}
    assert by_id == {"data": {"nodes": nodes(world)}}
    customers, more_customers = page_of(
        world, "/v1/customers", {"business_id": world.business_id, "limit": str(first)}
    )
    payments, more_payments = page_of(
        world, "/v1/payments", {"business_id": world.business_id, "limit": str(first)}
    )
    assert lists == {
        "data": {
            "business": {
                "customers": {
                    "edges": [{"node": {"id": c["id"], "name": c["name"]}} for c in customers],
                    "pageInfo": {"hasNextPage": more_customers},
                },
                "payments": {
                    "edges": [
                        {"node": {"id": p["id"], "status": p["status"].upper()}} for p in payments
                    ],
                    "pageInfo": {"hasNextPage": more_payments},
                },
            }
        }
    }


@CONTRACT_PROPERTIES
@given(world=worlds(), how=st.sampled_from(BREAKS), position=st.integers(0, 4), data=st.data())
async def test_a_contract_breaking_invoice_in_a_page_is_left_out_and_the_rest_shown(
    contract_gateway: Gateway,
    signing_key: rsa.RSAPrivateKey,
    world: World,
    how: str,
    position: int,
    data: st.DataObject,
) -> None:
    # Given a world whose invoice page also carries an invoice that breaks the contract,
    # made from one of the caller's business
    client, server = contract_gateway
    bad = data.draw(broken("Invoice", how, {"business_id": world.business_id}))
    world.invoices = [i for i in world.invoices if i["id"] != bad.get("id")]
    world.planted["/v1/invoices"] = (position, bad)
    server.world = world
    note(f"world: {world!r}")
    token = owner_of(signing_key, world)

    # When the owner opens the dashboard
    variables = {"id": world.business_id, "first": 5}
    board = (await graphql(client, DASHBOARD, token, variables)).json()

    # Then the page is the valid invoices, and one error reports the one left out: with
    # its id only if that has the contract's shape and it names the caller's business
    object_id = bad.get("id")
    named = (
        isinstance(object_id, str)
        and is_object_id(object_id, "inv_")
        and bad.get("business_id") == world.business_id
    )
    assert board == {
        "data": dashboard(world, 5),
        "errors": [
            invalid(
                DASHBOARD,
                "invoices(",
                ["business", "invoices"],
                "invoicing",
                **({"id": object_id} if named else {}),
            )
        ],
    }
