"""Selection-aware prefetch: `business(id)` sends the reads of its selected balance and
invoice page together with its own, an invoice page reads its invoices' customers,
payments and refunds for the whole page, and neither makes a read the query, the field
rules or the scopes would not make."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from starlette.applications import Starlette

from app.auth.principal import Role
from sandbox.seed import GB_BUSINESS_ID, INVOICES, PAYMENTS
from tests.e2e.conftest import Downstreams, GatewayFactory, TokenFactory, graphql
from tests.e2e.test_dashboard import DASHBOARD, calls_by_path
from tests.e2e.test_downstream_faults import inject

GB_INVOICES = [i for i in INVOICES if i.business_id == GB_BUSINESS_ID]


class Rendezvous:
    """Holds every request until `expected` requests are in flight at once, or times out:
    requests sent one after another can never all meet."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.arrived = 0
        self.met = asyncio.Event()

    async def arrive(self) -> bool:
        self.arrived += 1
        if self.arrived >= self.expected:
            self.met.set()
        try:
            await asyncio.wait_for(self.met.wait(), timeout=2)
        except TimeoutError:
            return False
        return True


class MeetingTransport(httpx.AsyncBaseTransport):
    def __init__(self, app: Starlette, rendezvous: Rendezvous, paths: set[str]) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._rendezvous = rendezvous
        self._paths = paths
        self.missed: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path in self._paths and not await self._rendezvous.arrive():
            self.missed.append(request.url.path)
        return await self._inner.handle_async_request(request)


async def test_the_business_its_balance_and_its_invoice_page_are_read_at_once(
    gateway_factory: GatewayFactory, downstreams: Downstreams, token_for: TokenFactory
) -> None:
    # Given downstreams that answer only once the three first-level reads are all in flight
    rendezvous = Rendezvous(expected=3)
    invoicing = MeetingTransport(
        downstreams.invoicing, rendezvous, {"/v1/businesses", "/v1/invoices"}
    )
    payments = MeetingTransport(downstreams.payments, rendezvous, {"/v1/balances"})
    gateway = await gateway_factory(transports={"invoicing": invoicing, "payments": payments})

    # When an owner loads the dashboard
    response = await graphql(
        gateway,
        DASHBOARD,
        token_for([(GB_BUSINESS_ID, Role.OWNER)]),
        {"id": GB_BUSINESS_ID, "first": 50},
    )

    # Then they met: none waited for another, and the answer is whole
    assert invoicing.missed == payments.missed == []
    body = response.json()
    assert "errors" not in body
    assert len(body["data"]["business"]["invoices"]["edges"]) == 50


async def test_a_skipped_invoice_page_and_a_refused_balance_are_not_read(
    gateway: httpx.AsyncClient, downstreams: Downstreams, token_for: TokenFactory
) -> None:
    # Given a viewer (no balance) asking for invoices under @skip
    query = f"""query($skip: Boolean!) {{
      business(id: "{GB_BUSINESS_ID}") {{ name balance {{ available {{ amount }} }}
        invoices(first: 5) @skip(if: $skip) {{ edges {{ node {{ id }} }} }} }}
    }}"""

    response = await graphql(
        gateway, query, token_for([(GB_BUSINESS_ID, Role.VIEWER)]), {"skip": True}
    )

    # Then only the business is read
    assert response.json()["data"]["business"]["balance"] is None
    assert calls_by_path(await downstreams.calls("invoicing")) == Counter({"GET /v1/businesses": 1})
    assert await downstreams.calls("payments") == []


async def test_a_partner_without_invoice_scope_causes_no_invoice_read(
    gateway: httpx.AsyncClient, downstreams: Downstreams, token_for: TokenFactory
) -> None:
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)], scopes=["businesses:read"])
    query = (
        f'{{ business(id: "{GB_BUSINESS_ID}") '
        "{ name invoices(first: 5) { edges { node { id } } } } }"
    )

    response = await graphql(gateway, query, token)

    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert calls_by_path(await downstreams.calls("invoicing")) == Counter({"GET /v1/businesses": 1})


async def test_a_bad_page_size_or_cursor_is_refused_as_before_without_a_listing(
    gateway: httpx.AsyncClient, downstreams: Downstreams, token_for: TokenFactory
) -> None:
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)])
    for arguments in ("first: 0", 'after: "not-a-cursor"'):
        query = (
            f'{{ business(id: "{GB_BUSINESS_ID}") '
            f"{{ invoices({arguments}) {{ edges {{ node {{ id }} }} }} }} }}"
        )

        response = await graphql(gateway, query, token)

        assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_USER_INPUT"]
    assert "GET /v1/invoices" not in calls_by_path(await downstreams.calls("invoicing"))


async def test_enum_and_int_variables_are_read_like_literals(
    gateway: httpx.AsyncClient, downstreams: Downstreams, token_for: TokenFactory
) -> None:
    query = f"""query($first: Int!, $status: InvoiceStatus) {{ business(id: "{GB_BUSINESS_ID}") {{
      invoices(first: $first, status: $status) {{ edges {{ node {{ id }} }} }} }} }}"""

    response = await graphql(
        gateway,
        query,
        token_for([(GB_BUSINESS_ID, Role.OWNER)]),
        {"first": 2, "status": "PAID"},
    )

    assert len(response.json()["data"]["business"]["invoices"]["edges"]) == 2
    listings = [c for c in await downstreams.calls("invoicing") if c["path"] == "/v1/invoices"]
    assert len(listings) == 1


async def test_two_aliases_of_the_same_page_share_one_listing_and_others_get_their_own(
    gateway: httpx.AsyncClient, downstreams: Downstreams, token_for: TokenFactory
) -> None:
    query = f"""{{ business(id: "{GB_BUSINESS_ID}") {{
      a: invoices(first: 3) {{ edges {{ node {{ id }} }} }}
      b: invoices(first: 3) {{ edges {{ node {{ id }} }} }}
      c: invoices(first: 2, status: PAID) {{ edges {{ node {{ id status }} }} }}
      ... on Business {{ d: invoices(first: 2, status: PAID) {{ edges {{ node {{ id }} }} }} }}
    }} }}"""

    response = await graphql(gateway, query, token_for([(GB_BUSINESS_ID, Role.OWNER)]))

    business = response.json()["data"]["business"]
    assert business["a"] == business["b"]
    assert [e["node"]["id"] for e in business["c"]["edges"]] == [
        e["node"]["id"] for e in business["d"]["edges"]
    ]
    assert {e["node"]["status"] for e in business["c"]["edges"]} == {"PAID"}
    listings = [c for c in await downstreams.calls("invoicing") if c["path"] == "/v1/invoices"]
    assert len(listings) == 2


CUSTOMER_PAGE = """query($id: ID!) { customer(id: $id) { invoices(first: 20) { edges { node {
  id customer { id } payments { id refunds { id } } } } } } }"""


async def test_a_customers_invoice_page_reads_its_children_once_for_the_whole_page(
    gateway: httpx.AsyncClient, downstreams: Downstreams, token_for: TokenFactory
) -> None:
    # Given a customer with several invoices, some paid and refunded
    customer_id = next(
        c for c, n in Counter(i.customer_id for i in GB_INVOICES).most_common() if n > 2
    )

    # When their invoices are listed with customer, payments and refunds
    response = await graphql(
        gateway, CUSTOMER_PAGE, token_for([(GB_BUSINESS_ID, Role.OWNER)]), {"id": customer_id}
    )

    # Then one read per kind serves the whole page (the customer itself was read once,
    # for customer(id), and the page's customer field is answered from that)
    edges = response.json()["data"]["customer"]["invoices"]["edges"]
    assert len(edges) > 2
    assert {e["node"]["customer"]["id"] for e in edges} == {customer_id}
    assert calls_by_path(await downstreams.calls("invoicing")) == Counter(
        {"GET /v1/customers": 1, "GET /v1/invoices": 1}
    )
    assert calls_by_path(await downstreams.calls("payments")) == Counter(
        {"GET /v1/payments": 1, "GET /v1/refunds": 1}
    )


@pytest.mark.parametrize(
    ("service", "path", "field"),
    [
        ("invoicing", "/v1/customers", "customer"),
        ("payments", "/v1/payments", "payments"),
        ("payments", "/v1/refunds", "refunds"),
    ],
)
async def test_a_failed_level_read_is_an_error_at_the_child_field_not_the_page(
    gateway: httpx.AsyncClient,
    downstreams: Downstreams,
    token_for: TokenFactory,
    service: str,
    path: str,
    field: str,
) -> None:
    # Given a service that fails one kind of read (500: not resent)
    await inject(downstreams, service, fail_next=1, fail_status=500, path_prefix=path)
    query = f"""{{ business(id: "{GB_BUSINESS_ID}") {{ invoices(first: 50) {{ edges {{ node {{
      id customer {{ id }} payments {{ id refunds {{ id }} }} }} }} }} }} }}"""

    # When the page is read with its children
    body = (await graphql(gateway, query, token_for([(GB_BUSINESS_ID, Role.OWNER)]))).json()

    # Then the error sits at that child field, typed, and the page itself was read
    assert {tuple(e["path"][:3]) for e in body["errors"]} == {("business", "invoices", "edges")}
    assert {e["path"][-1] for e in body["errors"]} == {field}
    assert {e["extensions"]["code"] for e in body["errors"]} == {"DOWNSTREAM_UNAVAILABLE"}
    reads = [c for c in await downstreams.calls(service) if c["path"] == path]
    assert len(reads) == 1


async def test_an_invoice_outside_a_page_still_loads_its_children_itself(
    gateway: httpx.AsyncClient, downstreams: Downstreams, token_for: TokenFactory
) -> None:
    invoice_id = next(p.invoice_id for p in PAYMENTS if p.business_id == GB_BUSINESS_ID)
    query = (
        f'{{ invoice(id: "{invoice_id}") '
        "{ id customer { id } payments { id refunds { id } } } }"
    )

    body = (await graphql(gateway, query, token_for([(GB_BUSINESS_ID, Role.OWNER)]))).json()

    assert "errors" not in body
    assert body["data"]["invoice"]["payments"]
    assert calls_by_path(await downstreams.calls("payments")) == Counter(
        {"GET /v1/payments": 1, "GET /v1/refunds": 1}
    )
