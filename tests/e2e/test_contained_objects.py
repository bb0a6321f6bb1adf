"""One object that breaks its contract is contained: left out of its list and reported
there (DOWNSTREAM_INVALID_RESPONSE, with its id only where the caller may learn it), or
null with the error at its own position; everything else answers. Never a confirmation
that another business's id exists."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from app.auth.principal import Role
from sandbox.seed import (
    GB_BUSINESS_ID,
    GB_CUSTOMER_ID,
    GB_OPEN_INVOICE_ID,
    GB_PARTLY_PAID_INVOICE_ID,
    IN_BUSINESS_ID,
    IN_CUSTOMER_ID,
    IN_OPEN_INVOICE_ID,
    SUCCEEDED_PAYMENT_ID,
)
from tests.e2e.conftest import (
    INVOICING_TOKEN,
    PAYMENTS_TOKEN,
    Downstreams,
    GatewayFactory,
    TokenFactory,
    graphql,
)
from tests.e2e.test_broken_values import invalid
from tests.e2e.test_dashboard import DASHBOARD, calls_by_path, newest_first, run_dashboard
from tests.e2e.test_downstream_faults import inject
from tests.e2e.test_lying_downstream import (
    BOTH,
    GB_INVOICE_WITH_PAYMENTS,
    Json,
    LyingTransport,
    is_batch,
    is_listing,
    location,
    one_object,
    sandbox_get,
)

DOWNSTREAM_LOGGER = "gateway.downstream"
GB_OWNER = ((GB_BUSINESS_ID, Role.OWNER),)


def broken_object_logs(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, Any, Any]]:
    """(service, type, object id, rules) of each broken object logged."""
    return [
        (record.service, record.type, record.object_id, record.rules)  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name == DOWNSTREAM_LOGGER
        and getattr(record, "event", "") == "downstream_invalid_object"
    ]


def _break_status(item: Json) -> None:
    item["status"] = "settled"


async def test_the_dashboard_answers_in_full_but_for_one_corrupted_invoice(
    gateway: httpx.AsyncClient,
    downstreams: Downstreams,
    token_for: TokenFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given an invoicing service whose next invoice listing has one invoice that breaks
    # the contract (the sandbox's fault: a float total in the page's first invoice)
    await inject(downstreams, "invoicing", invalid_next=1, path_prefix="/v1/invoices", method="GET")
    caplog.set_level(logging.WARNING, logger=DOWNSTREAM_LOGGER)
    newest = newest_first(GB_BUSINESS_ID)

    # When the owner opens the dashboard
    body = await run_dashboard(gateway, token_for(list(GB_OWNER)))

    # Then everything is there but that invoice, with one error naming it at the listing
    business = body["data"]["business"]
    assert body["errors"] == [
        invalid(DASHBOARD, "invoices(", ["business", "invoices"], "invoicing", id=newest[0].id)
    ]
    assert business["name"]
    assert business["balance"]["available"]
    edges = business["invoices"]["edges"]
    assert [edge["node"]["id"] for edge in edges] == [i.id for i in newest[1:50]]
    assert all(edge["node"]["customer"]["name"] for edge in edges)
    assert business["invoices"]["pageInfo"]["hasNextPage"] is True
    # And still six downstream calls
    assert calls_by_path(await downstreams.calls("invoicing")).total() == 3
    assert calls_by_path(await downstreams.calls("payments")).total() == 3
    # And the log names the object and the rule it broke, never its value
    assert broken_object_logs(caplog) == [
        ("invoicing", "Invoice", newest[0].id, ["int_type at total"])
    ]


async def test_nodes_show_a_broken_object_of_the_caller_as_an_error_at_its_position_only(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
) -> None:
    # Given an invoicing service that breaks one GB invoice and one IN invoice
    def corrupt(request: httpx.Request, payload: Json) -> bool:
        if not is_batch(request, "/v1/invoices"):
            return False
        for item in payload["data"]:
            if item["id"] in (GB_PARTLY_PAID_INVOICE_ID, IN_OPEN_INVOICE_ID):
                _break_status(item)
        return True

    lying = LyingTransport(downstreams.invoicing, corrupt)
    gateway = await gateway_factory(transports={"invoicing": lying})
    query = (
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } "
        f'mine: node(id: "{GB_PARTLY_PAID_INVOICE_ID}") {{ id }} '
        f'theirs: node(id: "{IN_OPEN_INVOICE_ID}") {{ id }} '
        'unknown: node(id: "inv_unknown1") { id } }'
    )
    ids = [GB_OPEN_INVOICE_ID, GB_PARTLY_PAID_INVOICE_ID, IN_OPEN_INVOICE_ID, "inv_unknown1"]

    # When a member of GB only asks for them
    response = await graphql(gateway, query, token_for(list(GB_OWNER)), {"ids": ids})

    # Then the caller's broken invoice is an error at its own position; the other
    # business's broken invoice is answered exactly as an unknown id
    not_found = {"code": "NOT_FOUND"}
    assert response.json() == {
        "data": {
            "nodes": [{"id": GB_OPEN_INVOICE_ID}, None, None, None],
            "mine": None,
            "theirs": None,
            "unknown": None,
        },
        "errors": [
            invalid(query, "mine:", ["mine"], "invoicing"),
            {
                "message": "Not found.",
                "locations": location(query, "theirs:"),
                "path": ["theirs"],
                "extensions": not_found,
            },
            {
                "message": "Not found.",
                "locations": location(query, "unknown:"),
                "path": ["unknown"],
                "extensions": not_found,
            },
            # (graphql-core completes a list's items after the fields beside it)
            invalid(query, "nodes(", ["nodes", 1], "invoicing"),
        ],
    }


async def test_a_broken_object_naming_another_business_is_reported_without_its_id(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
) -> None:
    # Given a GB invoice listing that also carries a broken IN invoice
    foreign = await one_object(
        downstreams.invoicing, INVOICING_TOKEN, "/v1/invoices", IN_OPEN_INVOICE_ID
    )
    _break_status(foreign)
    honest = await sandbox_get(
        downstreams.invoicing,
        INVOICING_TOKEN,
        "/v1/invoices",
        {"business_id": GB_BUSINESS_ID, "limit": "4"},
    )

    def smuggle(request: httpx.Request, payload: Json) -> bool:
        if not is_listing(request, "/v1/invoices", GB_BUSINESS_ID):
            return False
        payload["data"].insert(1, foreign)
        payload["data"].pop()
        return True

    lying = LyingTransport(downstreams.invoicing, smuggle)
    gateway = await gateway_factory(transports={"invoicing": lying})
    query = (
        f'{{ business(id: "{GB_BUSINESS_ID}") {{ invoices(first: 4) '
        "{ edges { node { id } } } } }"
    )

    # When a member of both businesses reads GB's invoices
    response = await graphql(gateway, query, token_for(list(BOTH)))

    # Then the page answers, and one error without the id says one object was left out
    assert response.json() == {
        "data": {
            "business": {
                "invoices": {"edges": [{"node": {"id": i["id"]}} for i in honest["data"][:3]]}
            }
        },
        "errors": [invalid(query, "invoices(", ["business", "invoices"], "invoicing")],
    }
    assert IN_OPEN_INVOICE_ID not in response.text


@pytest.mark.parametrize("through_the_page", [False, True], ids=["invoice", "invoice-page"])
async def test_a_broken_payment_of_an_invoice_is_reported_at_its_payments(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
    through_the_page: bool,
) -> None:
    # Given a payments service that breaks the first payment of an invoice's payments
    honest = await sandbox_get(
        downstreams.payments,
        PAYMENTS_TOKEN,
        "/v1/payments",
        {"invoice_ids": GB_INVOICE_WITH_PAYMENTS},
    )
    broken_id = honest["data"][0]["id"]

    def corrupt(request: httpx.Request, payload: Json) -> bool:
        if not is_batch(request, "/v1/payments", "invoice_ids"):
            return False
        for item in payload["data"]:
            if item["id"] == broken_id:
                item["amount"] = 12.5
        return True

    lying = LyingTransport(downstreams.payments, corrupt)
    gateway = await gateway_factory(transports={"payments": lying})
    if through_the_page:
        query = (
            f'{{ business(id: "{GB_BUSINESS_ID}") {{ invoices(first: 100) '
            "{ edges { node { id payments { id } } } } } }"
        )
    else:
        query = f'{{ invoice(id: "{GB_INVOICE_WITH_PAYMENTS}") {{ id payments {{ id }} }} }}'

    # When the invoice's payments are read (alone, or for a whole page at once)
    response = await graphql(gateway, query, token_for(list(GB_OWNER)))

    # Then its other payments are there, and one error at its payments names the broken one
    body = response.json()
    if through_the_page:
        edges = body["data"]["business"]["invoices"]["edges"]
        index = next(i for i, e in enumerate(edges) if e["node"]["id"] == GB_INVOICE_WITH_PAYMENTS)
        node = edges[index]["node"]
        path: list[str | int] = ["business", "invoices", "edges", index, "node", "payments"]
    else:
        node, path = body["data"]["invoice"], ["invoice", "payments"]
    kept = sorted(
        (p for p in honest["data"] if p["id"] != broken_id),
        key=lambda p: (p["created_at"], p["id"]),
    )
    assert node == {"id": GB_INVOICE_WITH_PAYMENTS, "payments": [{"id": p["id"]} for p in kept]}
    assert body["errors"] == [invalid(query, "payments {", path, "payments", id=broken_id)]


async def test_a_broken_business_of_the_caller_is_left_out_of_the_memberships(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
) -> None:
    def corrupt(request: httpx.Request, payload: Json) -> bool:
        for item in payload["data"]:
            if item["id"] == IN_BUSINESS_ID:
                item["country"] = "FR"
        return is_batch(request, "/v1/businesses")

    lying = LyingTransport(downstreams.invoicing, corrupt)
    gateway = await gateway_factory(transports={"invoicing": lying})
    query = "{ viewer { memberships { role business { id } } } }"

    response = await graphql(gateway, query, token_for(list(BOTH)))

    assert response.json() == {
        "data": {
            "viewer": {"memberships": [{"role": "OWNER", "business": {"id": GB_BUSINESS_ID}}]}
        },
        "errors": [
            invalid(query, "memberships", ["viewer", "memberships"], "invoicing", id=IN_BUSINESS_ID)
        ],
    }


async def test_links_without_the_contracts_id_shape_are_not_found_and_never_sent(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
) -> None:
    # Given an invoice whose customer_id, and a payment whose invoice_id, are strings the
    # contract allows but that name no id: one would smuggle a second id into ids=
    def relink(request: httpx.Request, payload: Json) -> bool:
        for item in payload["data"]:
            if item.get("object") == "invoice":
                item["customer_id"] = f"{GB_CUSTOMER_ID},{IN_CUSTOMER_ID}"
            elif item.get("object") == "payment":
                item["invoice_id"] = f"../invoices/{GB_OPEN_INVOICE_ID}"
        return True

    invoicing = LyingTransport(downstreams.invoicing, relink)
    payments = LyingTransport(downstreams.payments, relink)
    gateway = await gateway_factory(transports={"invoicing": invoicing, "payments": payments})
    query = (
        f'{{ invoice(id: "{GB_OPEN_INVOICE_ID}") {{ id customer {{ id }} }} '
        f'payment(id: "{SUCCEEDED_PAYMENT_ID}") {{ id invoice {{ id }} }} }}'
    )

    # When the edges are followed
    response = await graphql(gateway, query, token_for(list(BOTH)))

    # Then each is "not found" at its path, and neither string went downstream
    not_found = {"code": "NOT_FOUND"}
    assert response.json() == {
        "data": {"invoice": None, "payment": None},
        "errors": [
            {
                "message": "Not found.",
                "locations": location(query, "customer {"),
                "path": ["invoice", "customer"],
                "extensions": not_found,
            },
            {
                "message": "Not found.",
                "locations": location(query, "invoice {"),
                "path": ["payment", "invoice"],
                "extensions": not_found,
            },
        ],
    }
    calls = await downstreams.calls("invoicing")
    assert [(c["method"], c["path"]) for c in calls] == [("GET", "/v1/invoices")]


async def test_pay_invoice_reading_a_broken_invoice_refuses_and_moves_no_money(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
) -> None:
    # Given an invoicing service that answers the invoice to pay in breach of its contract
    def corrupt(request: httpx.Request, payload: Json) -> bool:
        for item in payload.get("data", []):
            if item.get("id") == GB_OPEN_INVOICE_ID:
                item["amount_due"] = "100.00"
        return is_batch(request, "/v1/invoices")

    lying = LyingTransport(downstreams.invoicing, corrupt)
    gateway = await gateway_factory(transports={"invoicing": lying})
    mutation = (
        "mutation($input: PayInvoiceInput!) { payInvoice(input: $input) "
        "{ payment { id } userErrors { code } } }"
    )
    variables = {
        "input": {
            "invoiceId": GB_OPEN_INVOICE_ID,
            "idempotencyKey": "broken-invoice-1",
            "paymentMethod": "pm_card_ok",
        }
    }

    # When the owner pays it
    response = await graphql(gateway, mutation, token_for(list(GB_OWNER)), variables)

    # Then it is refused as a contract-breaking answer (not "unavailable": the service
    # answered), and nothing was charged or recorded
    answer = response.json()["data"]["payInvoice"]
    assert answer["payment"] is None
    assert [e["code"] for e in answer["userErrors"]] == ["DOWNSTREAM_INVALID_RESPONSE"]
    posts = [
        call
        for service in ("invoicing", "payments")
        for call in await downstreams.calls(service)
        if call["method"] == "POST"
    ]
    assert posts == []
