"""The dashboard query, end to end against the sandbox: right data for every role, and
a number of downstream calls that depends on the query's shape, never on its size."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.auth.principal import Role
from app.core.money import format_money, to_major_string
from sandbox.seed import (
    CUSTOMERS,
    GB_BUSINESS_ID,
    IN_BUSINESS_ID,
    INVOICES,
    PAYMENTS,
    REFUNDS,
)
from tests.e2e.conftest import Downstreams, TokenFactory, graphql

# The web client's dashboard document, as it ships (clients/manifest.json trusts it).
DASHBOARD = (Path(__file__).parents[2] / "clients" / "web" / "Dashboard.graphql").read_text(
    encoding="utf-8"
)


def newest_first(business_id: str) -> list[Any]:
    return sorted(
        (i for i in INVOICES if i.business_id == business_id),
        key=lambda i: (i.created_at, i.id),
        reverse=True,
    )


def calls_by_path(calls: list[dict[str, Any]]) -> Counter[str]:
    return Counter(f"{c['method']} {c['path']}" for c in calls)


async def run_dashboard(
    gateway: httpx.AsyncClient, token: str, first: int = 50, business_id: str = GB_BUSINESS_ID
) -> dict[str, Any]:
    response = await graphql(gateway, DASHBOARD, token, {"id": business_id, "first": first})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_the_owner_sees_the_whole_dashboard_with_six_downstream_calls(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    body = await run_dashboard(gateway, token_for([(GB_BUSINESS_ID, Role.OWNER)]))

    assert "errors" not in body
    business = body["data"]["business"]
    assert business["viewerRole"] == "OWNER"
    assert business["vatNumber"] is not None
    edges = business["invoices"]["edges"]
    expected = newest_first(GB_BUSINESS_ID)[:50]
    assert [edge["node"]["id"] for edge in edges] == [i.id for i in expected]
    assert business["invoices"]["pageInfo"]["hasNextPage"] is True

    invoicing = calls_by_path(await downstreams.calls("invoicing"))
    payments = calls_by_path(await downstreams.calls("payments"))
    assert invoicing == Counter(
        {"GET /v1/businesses": 1, "GET /v1/invoices": 1, "GET /v1/customers": 1}
    )
    assert payments == Counter({"GET /v1/balances": 1, "GET /v1/payments": 1, "GET /v1/refunds": 1})


async def test_every_invoice_matches_the_system_of_record(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    body = await run_dashboard(gateway, token_for([(GB_BUSINESS_ID, Role.OWNER)]))

    customers = {c.id: c for c in CUSTOMERS}
    for edge, seed in zip(
        body["data"]["business"]["invoices"]["edges"], newest_first(GB_BUSINESS_ID), strict=False
    ):
        node = edge["node"]
        total = sum(line.quantity * line.unit_amount for line in seed.lines)
        total += _tax(total, seed.tax_rate_bps)
        assert node["number"] == seed.number
        assert node["status"] == seed.status.upper()
        assert node["total"] == {
            "amount": to_major_string(total, seed.currency),
            "currency": seed.currency,
            "formatted": format_money(total, seed.currency),
        }
        assert node["amountDue"]["amount"] == to_major_string(
            total - seed.amount_paid, seed.currency
        )
        assert node["customer"]["name"] == customers[seed.customer_id].name
        seed_payments = sorted(
            (p for p in PAYMENTS if p.invoice_id == seed.id), key=lambda p: (p.created_at, p.id)
        )
        assert [p["id"] for p in node["payments"]] == [p.id for p in seed_payments]
        for payment, seed_payment in zip(node["payments"], seed_payments, strict=True):
            assert payment["amount"]["amount"] == to_major_string(
                seed_payment.amount, seed_payment.currency
            )
            assert sorted(r["id"] for r in payment["refunds"]) == sorted(
                r.id for r in REFUNDS if r.payment_id == seed_payment.id
            )


def _tax(subtotal: int, bps: int) -> int:
    # Half-to-even on whole minor units, as the contract says.
    quotient, remainder = divmod(subtotal * bps, 10_000)
    if remainder * 2 > 10_000 or (remainder * 2 == 10_000 and quotient % 2 == 1):
        quotient += 1
    return quotient


@pytest.mark.parametrize("role", [Role.ADMIN, Role.ACCOUNTANT])
async def test_admins_and_accountants_see_everything_the_owner_sees(
    gateway: httpx.AsyncClient, token_for: TokenFactory, role: Role
) -> None:
    owner = await run_dashboard(gateway, token_for([(GB_BUSINESS_ID, Role.OWNER)]))
    other = await run_dashboard(gateway, token_for([(GB_BUSINESS_ID, role)]))

    owner["data"]["business"]["viewerRole"] = role.name
    assert other == owner


async def test_a_viewer_gets_nulls_and_forbidden_errors_for_sensitive_fields_only(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    body = await run_dashboard(gateway, token_for([(GB_BUSINESS_ID, Role.VIEWER)]))

    business = body["data"]["business"]
    assert business["vatNumber"] is None
    assert business["balance"] is None
    edges = business["invoices"]["edges"]
    assert len(edges) == 50
    assert all(edge["node"]["customer"]["email"] is None for edge in edges)
    assert all(
        payment["paymentMethod"] is None for edge in edges for payment in edge["node"]["payments"]
    )
    assert all(edge["node"]["customer"]["name"] for edge in edges)
    expected_paths: list[list[str | int]] = [["business", "vatNumber"], ["business", "balance"]]
    for index, edge in enumerate(edges):
        expected_paths.append(["business", "invoices", "edges", index, "node", "customer", "email"])
        for p_index, _payment in enumerate(edge["node"]["payments"]):
            expected_paths.append(
                [
                    "business",
                    "invoices",
                    "edges",
                    index,
                    "node",
                    "payments",
                    p_index,
                    "paymentMethod",
                ]
            )
    # The error list is capped: ten field errors, then one that counts the rest.
    *errors, rest = body["errors"]
    assert len(errors) == 10
    assert {str(e["path"]) for e in errors} <= set(map(str, expected_paths))
    assert {(e["message"], e["extensions"]["code"]) for e in errors} == {
        ("Your role or token scope does not allow reading this field.", "FORBIDDEN")
    }
    omitted = len(expected_paths) - 10
    assert rest == {
        "message": f"{omitted} more errors were left out.",
        "extensions": {"code": "TOO_MANY_ERRORS", "omitted": omitted},
    }
    # The balance is not even fetched for a viewer.
    assert "GET /v1/balances" not in calls_by_path(await downstreams.calls("payments"))


async def test_the_number_of_downstream_calls_does_not_grow_with_the_page(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])
    counts = []
    for first in (1, 5, 50, 100):
        await _reset_calls(downstreams)
        await run_dashboard(gateway, token, first=first)
        counts.append(
            sum(calls_by_path(await downstreams.calls("invoicing")).values())
            + sum(calls_by_path(await downstreams.calls("payments")).values())
        )

    assert counts == [6, 6, 6, 6]


async def _reset_calls(downstreams: Downstreams) -> None:
    from tests.e2e.conftest import INVOICING_TOKEN, PAYMENTS_TOKEN

    for app, token in (
        (downstreams.invoicing, INVOICING_TOKEN),
        (downstreams.payments, PAYMENTS_TOKEN),
    ):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
        ) as client:
            response = await client.delete(
                "/_sandbox/calls", headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 204


NODES_WITH_CUSTOMERS = """
query Nodes($ids: [ID!]!) {
  nodes(ids: $ids) { id ... on Invoice { number customer { id name } } }
}
"""


async def test_sixty_nodes_with_their_customers_take_two_downstream_calls(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    ids = [i.id for i in INVOICES if i.business_id == GB_BUSINESS_ID][:30]
    ids += [i.id for i in INVOICES if i.business_id == IN_BUSINESS_ID][:30]
    token = token_for([(GB_BUSINESS_ID, Role.VIEWER), (IN_BUSINESS_ID, Role.OWNER)])

    response = await graphql(gateway, NODES_WITH_CUSTOMERS, token, {"ids": ids})

    body = response.json()
    assert "errors" not in body
    assert [node["id"] for node in body["data"]["nodes"]] == ids
    customers = {c.id: c.name for c in CUSTOMERS}
    seed = {i.id: i for i in INVOICES}
    assert [n["customer"]["name"] for n in body["data"]["nodes"]] == [
        customers[seed[i].customer_id] for i in ids
    ]
    assert calls_by_path(await downstreams.calls("invoicing")) == Counter(
        {"GET /v1/invoices": 1, "GET /v1/customers": 1}
    )
    assert await downstreams.calls("payments") == []


async def test_money_is_exact_for_large_and_three_decimal_amounts(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    from sandbox.seed import IN_LARGE_INVOICE_ID, KWD_BUSINESS_ID, KWD_OPEN_INVOICE_ID

    token = token_for([(IN_BUSINESS_ID, Role.OWNER), (KWD_BUSINESS_ID, Role.OWNER)])
    query = """query($a: ID!, $b: ID!) {
      a: invoice(id: $a) { total { amount formatted } }
      b: invoice(id: $b) { total { amount currency } }
    }"""

    response = await graphql(
        gateway, query, token, {"a": IN_LARGE_INVOICE_ID, "b": KWD_OPEN_INVOICE_ID}
    )

    data = response.json()["data"]
    assert data["a"]["total"] == {"amount": "30000000.00", "formatted": "₹3,00,00,000.00"}
    amount = data["b"]["total"]["amount"]
    assert data["b"]["total"]["currency"] == "KWD"
    assert len(amount.split(".")[1]) == 3
