"""The gateway against other implementations of the same contracts.

The sandboxes' variants (sandbox/common/variants.py) make the other choice wherever the
contracts leave one open. Whatever the downstream services chose, the dashboard must
answer with the same data and no error: compared with the usual sandbox's answer, in
documented order (invoices newest first; an invoice's payments and a payment's refunds
oldest first), and in any order where the schema documents none (a balance's currencies).

A case failing here names a contract choice the gateway depends on: it is a gateway bug,
left visible on purpose.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.auth.principal import Role
from sandbox.seed import DEMO_BUSINESS_IDS, GB_BUSINESS_ID
from tests.e2e.conftest import (
    INVOICING_TOKEN,
    PAYMENTS_TOKEN,
    Downstreams,
    GatewayFactory,
    TokenFactory,
    graphql,
)

Json = dict[str, Any]

VARIANTS: dict[str, Json] = {
    "batches-reversed": {"batch_order": "reversed"},
    "batches-shuffled": {"batch_order": "shuffled"},
    "omit-nulls": {"omit_nulls": True},
    "offset-timestamps": {"offset_timestamps": True},
    "short-pages": {"short_pages": True},
    "extra-fields": {"extra_fields": True},
    "all-at-once": {
        "batch_order": "shuffled",
        "omit_nulls": True,
        "offset_timestamps": True,
        "short_pages": True,
        "extra_fields": True,
    },
}

MONEY = "amount currency formatted"
# The dashboard's reads, with every field a variant could disturb.
DASHBOARD = f"""
query Dashboard($id: ID!, $first: Int!) {{
  business(id: $id) {{
    id name country defaultCurrency vatNumber viewerRole
    balance {{ available {{ {MONEY} }} pending {{ {MONEY} }} }}
    invoices(first: $first) {{
      edges {{
        cursor
        node {{
          id number status currency dueDate isOverdue createdAt updatedAt taxRateBps
          lines {{ description quantity unitAmount {{ amount }} amount {{ amount }} }}
          subtotal {{ amount }} tax {{ amount }} total {{ {MONEY} }}
          amountPaid {{ amount }} amountDue {{ amount }}
          customer {{ id name email phone createdAt }}
          payments {{
            id status failureCode createdAt amount {{ {MONEY} }} amountRefunded {{ amount }}
            paymentMethod {{ type brand last4 upiVpa }}
            refunds {{ id status amount {{ amount }} reason createdAt }}
          }}
        }}
      }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}
"""

WALK = """
query Walk($id: ID!, $first: Int!, $invoices: String, $customers: String, $payments: String) {
  business(id: $id) {
    invoices(first: $first, after: $invoices) {
      edges { node { id number amountDue { amount } customer { id phone } } }
      pageInfo { hasNextPage endCursor }
    }
    customers(first: $first, after: $customers) {
      edges { node { id name email phone createdAt } }
      pageInfo { hasNextPage endCursor }
    }
    payments(first: $first, after: $payments) {
      edges { node { id status failureCode createdAt invoice { id } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
CONNECTIONS = ("invoices", "customers", "payments")


async def set_variant(downstreams: Downstreams, variant: Json) -> None:
    """Both sandboxes answer in `variant` from now on (their admin API, as a developer)."""
    for app, token in (
        (downstreams.invoicing, INVOICING_TOKEN),
        (downstreams.payments, PAYMENTS_TOKEN),
    ):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
        ) as client:
            response = await client.put(
                "/_sandbox/variant", json=variant, headers={"Authorization": f"Bearer {token}"}
            )
        assert response.status_code == 200, response.text


def unordered_balance(data: Json) -> Json:
    """`data` with the balance's currencies sorted: the schema gives them no order."""
    business = data.get("business")
    if not isinstance(business, dict) or not isinstance(business.get("balance"), dict):
        return data
    balance = {
        side: sorted(money, key=lambda m: m["currency"])
        for side, money in business["balance"].items()
    }
    return {**data, "business": {**business, "balance": balance}}


def differences(usual: Any, varied: Any, path: str = "data") -> list[str]:
    """Where `varied` departs from `usual`, path by path (the first few), for the report."""
    if isinstance(usual, dict) and isinstance(varied, dict):
        found = [f"{path}.{k}: missing" for k in usual if k not in varied]
        for key in usual:
            if key in varied:
                found += differences(usual[key], varied[key], f"{path}.{key}")
        return found[:5]
    if isinstance(usual, list) and isinstance(varied, list):
        found = []
        if len(usual) != len(varied):
            found.append(f"{path}: {len(varied)} items instead of {len(usual)}")
        for index, (a, b) in enumerate(zip(usual, varied, strict=False)):
            found += differences(a, b, f"{path}[{index}]")
        return found[:5]
    return [] if usual == varied else [f"{path}: {varied!r} instead of {usual!r}"]


async def answer(gateway: httpx.AsyncClient, query: str, token: str, variables: Json) -> Json:
    response = await graphql(gateway, query, token, variables)
    body: Json = response.json()
    assert "errors" not in body, body["errors"]
    assert response.status_code == 200
    data: Json = body["data"]
    return unordered_balance(data)


async def dashboards(gateway: httpx.AsyncClient, token: str) -> dict[str, Json]:
    return {
        business_id: await answer(gateway, DASHBOARD, token, {"id": business_id, "first": 50})
        for business_id in DEMO_BUSINESS_IDS
    }


async def walk_all(gateway: httpx.AsyncClient, token: str, first: int) -> dict[str, list[Json]]:
    """Every node of the business's three connections, following endCursor page by page."""
    nodes: dict[str, list[Json]] = {name: [] for name in CONNECTIONS}
    cursors: dict[str, str | None] = dict.fromkeys(CONNECTIONS)
    going = set(CONNECTIONS)
    for _ in range(100):
        variables: Json = {"id": GB_BUSINESS_ID, "first": first, **cursors}
        business = (await answer(gateway, WALK, token, variables))["business"]
        for name in list(going):
            page = business[name]
            nodes[name] += [edge["node"] for edge in page["edges"]]
            cursors[name] = page["pageInfo"]["endCursor"]
            if not page["pageInfo"]["hasNextPage"]:
                going.discard(name)
        if not going:
            return nodes
    raise AssertionError("still hasNextPage after 100 pages")


def topped_up(usual: Json, varied: Json) -> Json:
    """`varied` with its invoices page checked to be a leading part of `usual`'s, with
    hasNextPage true and the cursor of its last edge, then replaced by `usual`'s."""
    usual_page = usual["business"]["invoices"]
    page = varied["business"]["invoices"]
    edges = page["edges"]
    assert edges == usual_page["edges"][: len(edges)]
    assert 0 < len(edges) <= len(usual_page["edges"])
    if len(edges) < len(usual_page["edges"]):
        assert page["pageInfo"]["hasNextPage"] is True
    return {**varied, "business": {**varied["business"], "invoices": usual_page}}


@pytest.fixture
def owner(token_for: TokenFactory) -> str:
    return token_for([(business_id, Role.OWNER) for business_id in DEMO_BUSINESS_IDS])


@pytest.mark.parametrize("variant", VARIANTS.values(), ids=VARIANTS.keys())
async def test_the_dashboard_is_the_same_whatever_the_contract_choices(
    gateway_factory: GatewayFactory, downstreams: Downstreams, owner: str, variant: Json
) -> None:
    # given the dashboards as the usual sandboxes give them
    gateway = await gateway_factory()
    usual = await dashboards(gateway, owner)
    assert all(d["business"]["invoices"]["edges"] for d in usual.values())
    # when the sandboxes answer as another implementation of the contracts would
    await set_variant(downstreams, variant)
    varied = await dashboards(gateway, owner)
    if variant.get("short_pages"):
        # A short page with has_more is the contract's to give; the gateway passes it on
        # (fewer edges, hasNextPage true) rather than spend a second call to top it up,
        # and the cursor walk below finds the rest.
        for business_id in DEMO_BUSINESS_IDS:
            varied[business_id] = topped_up(usual[business_id], varied[business_id])
    # then the gateway answers the same, business by business
    found = [
        f"{business_id}: {difference}"
        for business_id in DEMO_BUSINESS_IDS
        for difference in differences(usual[business_id], varied[business_id])
    ]
    assert not found, "\n".join(found)
    assert varied == usual


@pytest.mark.parametrize("variant", VARIANTS.values(), ids=VARIANTS.keys())
async def test_walking_every_page_finds_the_same_objects_whatever_the_contract_choices(
    gateway_factory: GatewayFactory, downstreams: Downstreams, owner: str, variant: Json
) -> None:
    # given every invoice, customer and payment of a business, walked 4 at a time
    gateway = await gateway_factory()
    usual = await walk_all(gateway, owner, first=4)
    assert all(len(nodes) > 4 for nodes in usual.values())
    # when the sandboxes change their choices
    await set_variant(downstreams, variant)
    varied = await walk_all(gateway, owner, first=4)
    # then the same objects, in the same (documented, newest first) order
    found = [d for name in CONNECTIONS for d in differences(usual[name], varied[name], name)]
    assert not found, "\n".join(found)
    assert varied == usual
