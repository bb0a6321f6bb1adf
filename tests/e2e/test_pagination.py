"""Pages over the downstream listings: complete walks, page sizes, cursors, `nodes`."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.auth.principal import Role
from sandbox.seed import (
    FAILED_PAYMENT_ID,
    GB_BUSINESS_ID,
    GB_CUSTOMER_ID,
    GB_OPEN_INVOICE_ID,
    IN_BUSINESS_ID,
    IN_CUSTOMER_ID,
    IN_OPEN_INVOICE_ID,
    PARTIAL_REFUND_ID,
    SUCCEEDED_PAYMENT_ID,
)
from tests.e2e.conftest import (
    INVOICING_TOKEN,
    PAYMENTS_TOKEN,
    Downstreams,
    TokenFactory,
    graphql,
)

Json = dict[str, Any]

FIRST_ERROR = "first must be between 1 and 100."
CURSOR_ERROR = "after is not a cursor of this list."


# -- helpers ------------------------------------------------------------------------------


def location(query: str, needle: str) -> list[dict[str, int]]:
    """The GraphQL location (1-based line and column) of the first `needle` in `query`."""
    index = query.index(needle)
    line = query.count("\n", 0, index) + 1
    column = index - (query.rfind("\n", 0, index) + 1) + 1
    return [{"line": line, "column": column}]


def bad_input(query: str, needle: str, path: Sequence[str | int], message: str) -> Json:
    return {
        "message": message,
        "locations": location(query, needle),
        "path": list(path),
        "extensions": {"code": "BAD_USER_INPUT"},
    }


def cursor_of(raw: str) -> str:
    """What a client could forge: urlsafe base64 without padding, as the gateway writes."""
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


async def sandbox_ids(app: Starlette, token: str, path: str, params: dict[str, str]) -> list[str]:
    """The ids the sandbox itself lists, newest first (up to 100, enough for the seed).
    The call log is cleared afterwards, so it holds the gateway's calls only."""
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        response = await client.get(path, params={"limit": "100", **params}, headers=auth)
        (await client.delete("/_sandbox/calls", headers=auth)).raise_for_status()
    response.raise_for_status()
    body: Json = response.json()
    assert body["has_more"] is False, "the reference listing must fit in one page"
    return [item["id"] for item in body["data"]]


async def listing_calls(downstreams: Downstreams, service: str) -> list[str]:
    """Query strings of the listing calls (those by business_id) a service received."""
    return [
        call["query"]
        for call in await downstreams.calls(service)
        if "business_id=" in call["query"]
    ]


def dig(data: Json, path: tuple[str, ...]) -> Json:
    node: Json = data
    for key in path:
        node = node[key]
    return node


@dataclass(frozen=True)
class Walk:
    pages: list[list[Json]]
    page_infos: list[Json]

    @property
    def nodes(self) -> list[Json]:
        return [node for page in self.pages for node in page]


async def walk(
    gateway: httpx.AsyncClient,
    token: str,
    query: str,
    variables: Json,
    path: tuple[str, ...],
    max_pages: int = 30,
) -> Walk:
    """Follows endCursor from the first page until hasNextPage is false."""
    pages: list[list[Json]] = []
    infos: list[Json] = []
    after: str | None = None
    for _ in range(max_pages):
        response = await graphql(gateway, query, token, {**variables, "after": after})
        body = response.json()
        assert response.status_code == 200
        assert "errors" not in body, body
        connection = dig(body["data"], path)
        edges = connection["edges"]
        info = connection["pageInfo"]
        pages.append([edge["node"] for edge in edges])
        infos.append(info)
        # endCursor is the cursor of the page's last edge; each cursor is opaque.
        assert info["endCursor"] == (edges[-1]["cursor"] if edges else None)
        for edge in edges:
            assert edge["cursor"] != edge["node"]["id"]
            assert edge["node"]["id"] not in edge["cursor"]
        if not info["hasNextPage"]:
            return Walk(pages, infos)
        after = info["endCursor"]
    raise AssertionError(f"still hasNextPage after {max_pages} pages")


def assert_paged(result: Walk, expected_ids: list[str], page_size: int) -> None:
    ids = [node["id"] for node in result.nodes]
    # Every object exactly once, in the service's newest-first order.
    assert ids == expected_ids
    assert len(set(ids)) == len(ids)
    created = [node["createdAt"] for node in result.nodes]
    assert created == sorted(created, reverse=True)
    # Full pages until the last; hasNextPage false only on the last one.
    assert [len(page) for page in result.pages[:-1]] == [page_size] * (len(result.pages) - 1)
    assert 1 <= len(result.pages[-1]) <= page_size
    assert [info["hasNextPage"] for info in result.page_infos] == [True] * (
        len(result.pages) - 1
    ) + [False]


# -- complete walks -----------------------------------------------------------------------

BUSINESS_WALK = """
query Walk($id: ID!, $first: Int, $after: String) {
  business(id: $id) {
    %s(first: $first, after: $after) {
      edges { cursor node { id createdAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


@pytest.mark.parametrize(
    ("field", "service", "path", "page_size", "expected_pages"),
    [
        ("invoices", "invoicing", "/v1/invoices", 7, 8),  # 54 = 7 x 7 + 5
        ("customers", "invoicing", "/v1/customers", 4, 2),  # 6 = 4 + 2
        ("payments", "payments", "/v1/payments", 7, 6),  # 42 = 7 x 6: last page full
    ],
)
async def test_walking_a_business_connection_visits_every_object_once_newest_first(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    downstreams: Downstreams,
    field: str,
    service: str,
    path: str,
    page_size: int,
    expected_pages: int,
) -> None:
    # Given the sandbox's own listing of the GB business
    app = downstreams.invoicing if service == "invoicing" else downstreams.payments
    service_token = INVOICING_TOKEN if service == "invoicing" else PAYMENTS_TOKEN
    expected = await sandbox_ids(app, service_token, path, {"business_id": GB_BUSINESS_ID})
    token = token_for([(GB_BUSINESS_ID, Role.VIEWER)])

    # When the client walks the connection by endCursor
    result = await walk(
        gateway,
        token,
        BUSINESS_WALK % field,
        {"id": GB_BUSINESS_ID, "first": page_size},
        ("business", field),
    )

    # Then it sees exactly the service's objects, once each, newest first
    assert len(result.pages) == expected_pages
    assert_paged(result, expected, page_size)
    assert all(node["id"].startswith(path.removeprefix("/v1/")[:3]) for node in result.nodes)


async def test_walking_customer_invoices_shows_only_that_customers_invoices(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    # Given the sandbox's own listing of one customer's invoices
    expected = await sandbox_ids(
        downstreams.invoicing,
        INVOICING_TOKEN,
        "/v1/invoices",
        {"business_id": GB_BUSINESS_ID, "customer_id": GB_CUSTOMER_ID},
    )
    query = """
    query Walk($id: ID!, $first: Int, $after: String) {
      customer(id: $id) {
        invoices(first: $first, after: $after) {
          edges { cursor node { id createdAt customer { id } business { id } } }
          pageInfo { hasNextPage endCursor }
        }
      }
    }
    """
    token = token_for([(GB_BUSINESS_ID, Role.VIEWER)])

    # When the customer's invoices are walked four at a time
    result = await walk(
        gateway, token, query, {"id": GB_CUSTOMER_ID, "first": 4}, ("customer", "invoices")
    )

    # Then every one of them, and only them, appears once
    assert len(expected) == 9
    assert_paged(result, expected, 4)
    assert {node["customer"]["id"] for node in result.nodes} == {GB_CUSTOMER_ID}
    assert {node["business"]["id"] for node in result.nodes} == {GB_BUSINESS_ID}


FILTERED_WALK = """
query Walk($id: ID!, $first: Int, $after: String, $status: InvoiceStatus, $customerId: ID) {
  business(id: $id) {
    invoices(first: $first, after: $after, status: $status, customerId: $customerId) {
      edges { cursor node { id createdAt status customer { id } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


@pytest.mark.parametrize(
    ("variables", "params", "expected_count"),
    [
        ({"status": "OPEN"}, {"status": "open"}, 19),
        ({"status": "VOID"}, {"status": "void"}, 8),
        ({"customerId": GB_CUSTOMER_ID}, {"customer_id": GB_CUSTOMER_ID}, 9),
        (
            {"status": "PAID", "customerId": "cus_GB0002"},
            {"status": "paid", "customer_id": "cus_GB0002"},
            None,
        ),
    ],
)
async def test_walking_filtered_invoices_visits_exactly_the_matching_ones(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    downstreams: Downstreams,
    variables: Json,
    params: dict[str, str],
    expected_count: int | None,
) -> None:
    # Given the sandbox's own filtered listing
    expected = await sandbox_ids(
        downstreams.invoicing,
        INVOICING_TOKEN,
        "/v1/invoices",
        {"business_id": GB_BUSINESS_ID, **params},
    )
    if expected_count is not None:
        assert len(expected) == expected_count
    token = token_for([(GB_BUSINESS_ID, Role.VIEWER)])

    # When the filtered connection is walked
    result = await walk(
        gateway,
        token,
        FILTERED_WALK,
        {"id": GB_BUSINESS_ID, "first": 7, **variables},
        ("business", "invoices"),
    )

    # Then exactly the matching invoices come back, once each, newest first
    assert_paged(result, expected, 7)
    if "status" in variables:
        assert {node["status"] for node in result.nodes} == {variables["status"]}
    if "customerId" in variables:
        assert {node["customer"]["id"] for node in result.nodes} == {variables["customerId"]}


@pytest.mark.parametrize(
    "customer_id",
    [
        pytest.param(IN_CUSTOMER_ID, id="another-business-customer"),
        pytest.param("cus_doesnotexist", id="unknown-customer"),
        pytest.param(GB_OPEN_INVOICE_ID, id="an-invoice-id"),
        pytest.param("not a customer", id="wrong-shape"),
        pytest.param("cus_GB0001,cus_GB0002", id="two-ids"),
        pytest.param("cus_GB0001&business_id=biz_INdemo", id="query-injection"),
        pytest.param("cus_" + "A" * 40, id="overlong"),
    ],
)
async def test_a_customer_id_filter_that_is_not_this_business_customer_gives_an_empty_page(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    downstreams: Downstreams,
    customer_id: str,
) -> None:
    # Given a caller who is a member of BOTH demo businesses
    token = token_for([(GB_BUSINESS_ID, Role.OWNER), (IN_BUSINESS_ID, Role.OWNER)])

    # When the GB business's invoices are filtered by a customer id that is not GB's
    response = await graphql(
        gateway,
        FILTERED_WALK,
        token,
        {"id": GB_BUSINESS_ID, "first": 20, "after": None, "customerId": customer_id},
    )

    # Then the page is empty: never another business's invoices, never an error
    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "business": {
                "invoices": {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}
            }
        }
    }
    # A value that is not a customer id at all is not even sent downstream.
    calls = await listing_calls(downstreams, "invoicing")
    assert all(f"business_id={GB_BUSINESS_ID}" in call for call in calls)
    if re.fullmatch(r"cus_[A-Za-z0-9]{1,32}", customer_id) is None:
        assert calls == []


# -- page sizes ---------------------------------------------------------------------------

CONNECTION_QUERIES = {
    "Business.invoices": (
        'query($first: Int) { business(id: "biz_GBdemo") { invoices(first: $first) '
        "{ edges { node { id } } } } }",
        "invoices(",
        ["business", "invoices"],
        "invoicing",
    ),
    "Business.customers": (
        'query($first: Int) { business(id: "biz_GBdemo") { customers(first: $first) '
        "{ edges { node { id } } } } }",
        "customers(",
        ["business", "customers"],
        "invoicing",
    ),
    "Business.payments": (
        'query($first: Int) { business(id: "biz_GBdemo") { payments(first: $first) '
        "{ edges { node { id } } } } }",
        "payments(",
        ["business", "payments"],
        "payments",
    ),
    "Customer.invoices": (
        'query($first: Int) { customer(id: "cus_GB0001") { invoices(first: $first) '
        "{ edges { node { id } } } } }",
        "invoices(",
        ["customer", "invoices"],
        "invoicing",
    ),
}


@pytest.mark.parametrize("connection", list(CONNECTION_QUERIES))
@pytest.mark.parametrize("first", [0, -1, 101, 1000, 2**31 - 1, -(2**31)])
async def test_a_page_size_outside_1_to_100_is_bad_user_input_and_lists_nothing(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    downstreams: Downstreams,
    connection: str,
    first: int,
) -> None:
    # Given a connection query with an out-of-range `first`
    query, _, _, service = CONNECTION_QUERIES[connection]
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    # When it is run
    response = await graphql(gateway, query, token, {"first": first})

    # Then it is refused before anything runs: one BAD_USER_INPUT error at the argument
    assert response.status_code == 200
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": FIRST_ERROR,
                "locations": location(query, "first: $first"),
                "extensions": {"code": "BAD_USER_INPUT"},
            }
        ],
    }
    # And no service was asked anything, not even for the parent object
    assert await downstreams.calls(service) == []
    assert await downstreams.calls("payments") == []


@pytest.mark.parametrize(
    ("first", "expected_count", "has_next", "limit_sent"),
    [
        pytest.param(1, 1, True, "1", id="first=1"),
        pytest.param(100, 54, False, "100", id="first=100"),
        pytest.param(None, 20, True, "20", id="omitted"),
    ],
)
async def test_page_sizes_at_the_bounds_and_the_default(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    downstreams: Downstreams,
    first: int | None,
    expected_count: int,
    has_next: bool,
    limit_sent: str,
) -> None:
    # Given the sandbox's own listing of the GB invoices
    expected = await sandbox_ids(
        downstreams.invoicing, INVOICING_TOKEN, "/v1/invoices", {"business_id": GB_BUSINESS_ID}
    )
    argument = "" if first is None else f"(first: {first})"
    query = (
        f'{{ business(id: "{GB_BUSINESS_ID}") {{ invoices{argument} '
        "{ edges { node { id } } pageInfo { hasNextPage } } } }"
    )
    token = token_for([(GB_BUSINESS_ID, Role.VIEWER)])

    # When the first page is read
    response = await graphql(gateway, query, token)

    # Then it holds the newest `first` invoices (20 when omitted)
    body = response.json()
    assert "errors" not in body, body
    invoices = body["data"]["business"]["invoices"]
    assert [edge["node"]["id"] for edge in invoices["edges"]] == expected[:expected_count]
    assert invoices["pageInfo"] == {"hasNextPage": has_next}
    # And the listing asked the service for exactly that many
    calls = await listing_calls(downstreams, "invoicing")
    assert len(calls) == 1
    assert f"limit={limit_sent}" in calls[0].split("&")


# -- cursors ------------------------------------------------------------------------------

INVOICES_AFTER = (
    'query($after: String) { business(id: "biz_GBdemo") '
    "{ invoices(first: 5, after: $after) { edges { cursor node { id } } } } }"
)


async def first_cursor(
    gateway: httpx.AsyncClient, token: str, field: str, business_id: str = GB_BUSINESS_ID
) -> str:
    query = (
        f'{{ business(id: "{business_id}") {{ {field}(first: 1) '
        "{ pageInfo { endCursor } } } }"
    )
    response = await graphql(gateway, query, token)
    cursor: str = response.json()["data"]["business"][field]["pageInfo"]["endCursor"]
    return cursor


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param("not a cursor!", id="random-string"),
        pytest.param("Zm9vYmFy", id="base64-of-foobar"),
        pytest.param(base64.b64encode(b"\xff\xfe\x00garbage\x80").decode(), id="base64-binary"),
        pytest.param(cursor_of("inv_GB0001"), id="base64-raw-id-no-version"),
        pytest.param(cursor_of("v2:inv_GB0001"), id="other-version"),
        pytest.param(cursor_of("v1:cus_GB0001"), id="customer-id-inside"),
        pytest.param(cursor_of("v1:pay_GB0001"), id="payment-id-inside"),
        pytest.param(cursor_of("v1:inv_GB0001,inv_IN0001"), id="two-ids-inside"),
        pytest.param(cursor_of("v1:inv_GB0001&business_id=biz_INdemo"), id="injection"),
        pytest.param(cursor_of("v1:inv_"), id="empty-id"),
        pytest.param(cursor_of("v1:inv_" + "A" * 33), id="id-too-long"),
        pytest.param("inv_GB0001", id="raw-id"),
        pytest.param("A" * 65, id="just-over-64"),
        pytest.param("A" * 10_000, id="overlong"),
        pytest.param(cursor_of("v1:inv_GB0001") + "A" * 60, id="valid-prefix-overlong"),
        pytest.param("\u00e9\u00e9\u00e9\u00e9", id="non-ascii"),
    ],
)
async def test_a_forged_cursor_is_bad_user_input_and_lists_nothing(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    downstreams: Downstreams,
    forged: str,
) -> None:
    # Given a cursor the gateway never issued for this list
    token = token_for([(GB_BUSINESS_ID, Role.OWNER), (IN_BUSINESS_ID, Role.OWNER)])

    # When it is passed as `after`
    response = await graphql(gateway, INVOICES_AFTER, token, {"after": forged})

    # Then one BAD_USER_INPUT error at the connection's path, and no listing call
    assert response.status_code == 200
    assert response.json() == {
        "data": {"business": None},
        "errors": [bad_input(INVOICES_AFTER, "invoices(", ["business", "invoices"], CURSOR_ERROR)],
    }
    assert await listing_calls(downstreams, "invoicing") == []


@pytest.mark.parametrize(
    ("issued_by", "used_for"),
    [
        ("customers", "invoices"),
        ("payments", "invoices"),
        ("invoices", "customers"),
        ("invoices", "payments"),
        ("customers", "payments"),
    ],
)
async def test_a_real_cursor_of_another_list_type_is_bad_user_input(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    downstreams: Downstreams,
    issued_by: str,
    used_for: str,
) -> None:
    # Given a cursor the gateway really issued, but for another kind of list
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])
    cursor = await first_cursor(gateway, token, issued_by)
    service = "payments" if used_for == "payments" else "invoicing"
    before = await listing_calls(downstreams, service)
    query = (
        'query($after: String) { business(id: "biz_GBdemo") '
        f"{{ {used_for}(first: 5, after: $after) {{ edges {{ node {{ id }} }} }} }} }}"
    )

    # When it is used as `after` on a list of another type
    response = await graphql(gateway, query, token, {"after": cursor})

    # Then BAD_USER_INPUT at that list's path, and the service is not asked
    assert response.json() == {
        "data": {"business": None},
        "errors": [bad_input(query, f"{used_for}(", ["business", used_for], CURSOR_ERROR)],
    }
    assert await listing_calls(downstreams, service) == before


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param(cursor_of(f"v1:{IN_OPEN_INVOICE_ID}"), id="another-business-invoice"),
        pytest.param(cursor_of("v1:inv_doesnotexist"), id="unknown-invoice"),
    ],
)
async def test_a_well_formed_cursor_that_is_not_of_this_list_is_bad_user_input(
    gateway: httpx.AsyncClient, token_for: TokenFactory, cursor: str
) -> None:
    # Given a cursor shaped like the gateway's own, for an invoice outside this listing
    # (the caller is a member of both businesses, so the IN invoice is real to them)
    token = token_for([(GB_BUSINESS_ID, Role.OWNER), (IN_BUSINESS_ID, Role.OWNER)])

    # When it is used on the GB business's invoices
    response = await graphql(gateway, INVOICES_AFTER, token, {"after": cursor})

    # Then it is the client's bad input, never reported as a downstream outage
    assert response.json() == {
        "data": {"business": None},
        "errors": [bad_input(INVOICES_AFTER, "invoices(", ["business", "invoices"], CURSOR_ERROR)],
    }


async def test_a_cursor_of_another_business_list_of_the_same_type_is_bad_user_input(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    # Given a real cursor of the IN business's invoices (the caller is in both)
    token = token_for([(GB_BUSINESS_ID, Role.OWNER), (IN_BUSINESS_ID, Role.OWNER)])
    cursor = await first_cursor(gateway, token, "invoices", IN_BUSINESS_ID)

    # When it is used on the GB business's invoices
    response = await graphql(gateway, INVOICES_AFTER, token, {"after": cursor})

    # Then BAD_USER_INPUT, and never any IN invoice
    assert response.json() == {
        "data": {"business": None},
        "errors": [bad_input(INVOICES_AFTER, "invoices(", ["business", "invoices"], CURSOR_ERROR)],
    }


async def test_an_issued_cursor_continues_exactly_after_its_item(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    # Given the sandbox's listing and the cursor of the 3rd invoice of the first page
    expected = await sandbox_ids(
        downstreams.invoicing, INVOICING_TOKEN, "/v1/invoices", {"business_id": GB_BUSINESS_ID}
    )
    token = token_for([(GB_BUSINESS_ID, Role.VIEWER)])
    first_page = (await graphql(gateway, INVOICES_AFTER, token, {"after": None})).json()
    edges = first_page["data"]["business"]["invoices"]["edges"]
    assert [edge["node"]["id"] for edge in edges] == expected[:5]
    # Cursors are distinct per item and are not the ids.
    cursors = [edge["cursor"] for edge in edges]
    assert len(set(cursors)) == 5
    assert not set(cursors) & set(expected)

    # When a page is read after a cursor in the middle of the first page
    response = await graphql(gateway, INVOICES_AFTER, token, {"after": cursors[2]})

    # Then it starts with the item right after it
    ids = [edge["node"]["id"] for edge in response.json()["data"]["business"]["invoices"]["edges"]]
    assert ids == expected[3:8]


# -- nodes --------------------------------------------------------------------------------

NODES_QUERY = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"


async def test_nodes_with_more_than_100_ids_is_bad_user_input_and_reads_nothing(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    # Given 101 ids
    ids = [f"inv_GB{n:04d}" for n in range(1, 102)]
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    # When nodes is asked for them
    response = await graphql(gateway, NODES_QUERY, token, {"ids": ids})

    # Then one BAD_USER_INPUT error at the argument, before anything runs
    assert response.status_code == 200
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": "nodes takes at most 100 ids.",
                "locations": location(NODES_QUERY, "ids: $ids"),
                "extensions": {"code": "BAD_USER_INPUT"},
            }
        ],
    }
    assert await downstreams.calls("invoicing") == []
    assert await downstreams.calls("payments") == []


async def test_nodes_with_tens_of_thousands_of_ids_is_refused_before_they_are_coerced(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    # Given 50,000 ids, some of them not even strings (coercion would report each one)
    ids: list[object] = [f"inv_GB{n:05d}" for n in range(50_000)]
    ids[1::2] = [{"not": "an id"}] * 25_000
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])

    # When nodes is asked for them
    response = await graphql(gateway, NODES_QUERY, token, {"ids": ids})

    # Then the one refusal, not 25,000 coercion errors, and nothing read
    assert response.json()["errors"] == [
        {
            "message": "nodes takes at most 100 ids.",
            "locations": location(NODES_QUERY, "ids: $ids"),
            "extensions": {"code": "BAD_USER_INPUT"},
        }
    ]
    assert await downstreams.calls("invoicing") == []
    assert await downstreams.calls("payments") == []


async def test_nodes_with_100_ids_answers_every_one_in_order(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    # Given exactly 100 ids: the 54 GB invoices, then unknown ones, reversed
    ids = [f"inv_GB{n:04d}" for n in range(1, 55)] + [f"inv_ZZ{n:04d}" for n in range(46)]
    ids.reverse()
    token = token_for([(GB_BUSINESS_ID, Role.VIEWER)])

    # When nodes is asked for them
    response = await graphql(gateway, NODES_QUERY, token, {"ids": ids})

    # Then one entry per id, in order, null for the unknown ones
    assert response.json() == {
        "data": {
            "nodes": [
                {"__typename": "Invoice", "id": i} if i.startswith("inv_GB") else None for i in ids
            ]
        }
    }


async def test_nodes_of_mixed_types_come_back_in_the_order_asked(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    # Given ids of every type, unknown ones, another business's, junk and a repeat
    ids = [
        PARTIAL_REFUND_ID,
        GB_OPEN_INVOICE_ID,
        "inv_doesnotexist",
        GB_BUSINESS_ID,
        IN_OPEN_INVOICE_ID,
        SUCCEEDED_PAYMENT_ID,
        "junk",
        GB_CUSTOMER_ID,
        IN_BUSINESS_ID,
        FAILED_PAYMENT_ID,
        "",
        GB_OPEN_INVOICE_ID,
        IN_CUSTOMER_ID,
    ]
    token = token_for([(GB_BUSINESS_ID, Role.VIEWER)])

    # When nodes is asked for them
    response = await graphql(gateway, NODES_QUERY, token, {"ids": ids})

    # Then the entries are in the same order; null where unknown or not the caller's
    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "nodes": [
                {"__typename": "Refund", "id": PARTIAL_REFUND_ID},
                {"__typename": "Invoice", "id": GB_OPEN_INVOICE_ID},
                None,
                {"__typename": "Business", "id": GB_BUSINESS_ID},
                None,
                {"__typename": "Payment", "id": SUCCEEDED_PAYMENT_ID},
                None,
                {"__typename": "Customer", "id": GB_CUSTOMER_ID},
                None,
                {"__typename": "Payment", "id": FAILED_PAYMENT_ID},
                None,
                {"__typename": "Invoice", "id": GB_OPEN_INVOICE_ID},
                None,
            ]
        }
    }
