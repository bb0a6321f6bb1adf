"""A downstream service that lies: objects of another business, objects not asked for,
and values that break the contract. Nothing it says is shown unchecked."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.auth.principal import Role
from sandbox.seed import (
    BUSINESSES,
    GB_BUSINESS_ID,
    GB_CUSTOMER_ID,
    GB_OPEN_INVOICE_ID,
    GB_PARTLY_PAID_INVOICE_ID,
    IN_BUSINESS_ID,
    IN_CUSTOMER_ID,
    IN_OPEN_INVOICE_ID,
    PAYMENTS,
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

Json = dict[str, Any]
Rewrite = Callable[[httpx.Request, Json], bool]

SECURITY_LOGGER = "gateway.security"
GB_NAME = next(b.name for b in BUSINESSES if b.id == GB_BUSINESS_ID)
# A GB invoice with several payment attempts, so Invoice.payments has something to keep.
GB_INVOICE_WITH_PAYMENTS = Counter(
    p.invoice_id for p in PAYMENTS if p.business_id == GB_BUSINESS_ID
).most_common(1)[0][0]


class LyingTransport(httpx.AsyncBaseTransport):
    """Delegates to the sandbox app, then lets `rewrite` edit 200 JSON bodies in place."""

    def __init__(self, app: Starlette, rewrite: Rewrite) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._rewrite = rewrite
        self.rewritten = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if response.status_code != 200:
            return response
        body = await response.aread()
        await response.aclose()
        payload = json.loads(body)
        if self._rewrite(request, payload):
            self.rewritten += 1
            body = json.dumps(payload).encode()  # allow_nan: NaN goes out as the token NaN
        headers = [(k, v) for k, v in response.headers.multi_items() if k != "content-length"]
        return httpx.Response(response.status_code, headers=headers, content=body)


async def sandbox_get(app: Starlette, token: str, path: str, params: dict[str, str]) -> Json:
    """A read straight from the sandbox (not through the gateway); the call log is reset."""
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        response = await client.get(path, params=params, headers=auth)
        (await client.delete("/_sandbox/calls", headers=auth)).raise_for_status()
    response.raise_for_status()
    body: Json = response.json()
    return body


async def one_object(app: Starlette, token: str, path: str, object_id: str) -> Json:
    data = (await sandbox_get(app, token, path, {"ids": object_id}))["data"]
    assert len(data) == 1
    item: Json = data[0]
    return item


def is_listing(request: httpx.Request, path: str, business_id: str) -> bool:
    return request.url.path == path and request.url.params.get("business_id") == business_id


def is_batch(request: httpx.Request, path: str, param: str = "ids") -> bool:
    return request.url.path == path and param in request.url.params


def location(query: str, needle: str) -> list[dict[str, int]]:
    index = query.index(needle)
    line = query.count("\n", 0, index) + 1
    column = index - (query.rfind("\n", 0, index) + 1) + 1
    return [{"line": line, "column": column}]


def security_events(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, str, int]]:
    """(level, event, what, dropped) of each security log record."""
    return [
        (
            record.levelname,
            str(getattr(record, "event", "")),
            str(getattr(record, "request", getattr(record, "edge", ""))),
            int(getattr(record, "dropped", 0)),
        )
        for record in caplog.records
        if record.name == SECURITY_LOGGER
    ]


BOTH = ((GB_BUSINESS_ID, Role.OWNER), (IN_BUSINESS_ID, Role.OWNER))


# -- objects of another business --------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "service", "path", "foreign_id"),
    [
        ("invoices", "invoicing", "/v1/invoices", IN_OPEN_INVOICE_ID),
        ("customers", "invoicing", "/v1/customers", IN_CUSTOMER_ID),
        ("payments", "payments", "/v1/payments", "pay_IN0001"),
    ],
)
async def test_a_listing_with_an_object_of_another_business_drops_it_and_logs(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
    caplog: pytest.LogCaptureFixture,
    field: str,
    service: str,
    path: str,
    foreign_id: str,
) -> None:
    # Given a service whose GB listing also carries an object of the IN business,
    # and a caller who is a member of BOTH (so membership alone would let it through)
    app = downstreams.invoicing if service == "invoicing" else downstreams.payments
    service_token = INVOICING_TOKEN if service == "invoicing" else PAYMENTS_TOKEN
    foreign = await one_object(app, service_token, path, foreign_id)
    assert foreign["business_id"] == IN_BUSINESS_ID
    honest = await sandbox_get(
        app, service_token, path, {"business_id": GB_BUSINESS_ID, "limit": "5"}
    )

    def smuggle(request: httpx.Request, payload: Json) -> bool:
        if not is_listing(request, path, GB_BUSINESS_ID):
            return False
        payload["data"].insert(2, foreign)
        return True

    lying = LyingTransport(app, smuggle)
    gateway = await gateway_factory(transports={service: lying})
    query = (
        f'{{ business(id: "{GB_BUSINESS_ID}") {{ {field}(first: 5) '
        "{ edges { node { id business { id } } } pageInfo { hasNextPage } } } }"
    )
    caplog.set_level(logging.WARNING, logger=SECURITY_LOGGER)

    # When the GB business's list is read
    response = await graphql(gateway, query, token_for(list(BOTH)))

    # Then exactly the honest page is shown, and the foreign object nowhere
    assert lying.rewritten == 1
    assert response.json() == {
        "data": {
            "business": {
                field: {
                    "edges": [
                        {"node": {"id": item["id"], "business": {"id": GB_BUSINESS_ID}}}
                        for item in honest["data"]
                    ],
                    "pageInfo": {"hasNextPage": True},
                }
            }
        }
    }
    assert foreign_id not in response.text
    # And a security event says what was dropped
    assert security_events(caplog) == [
        ("WARNING", "downstream_foreign_object", f"{path} listing", 1)
    ]


async def test_a_batch_read_with_objects_not_asked_for_drops_them_and_logs(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given an invoicing service that answers `ids=` with two extra invoices,
    # one of another business the caller is also a member of, one of the same business
    extra_foreign = await one_object(
        downstreams.invoicing, INVOICING_TOKEN, "/v1/invoices", IN_OPEN_INVOICE_ID
    )
    extra_own = await one_object(
        downstreams.invoicing, INVOICING_TOKEN, "/v1/invoices", GB_PARTLY_PAID_INVOICE_ID
    )

    def pad(request: httpx.Request, payload: Json) -> bool:
        if not is_batch(request, "/v1/invoices"):
            return False
        payload["data"] = [extra_foreign, *payload["data"], extra_own]
        return True

    lying = LyingTransport(downstreams.invoicing, pad)
    gateway = await gateway_factory(transports={"invoicing": lying})
    query = (
        "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } "
        f'invoice(id: "{GB_OPEN_INVOICE_ID}") {{ id number }} }}'
    )
    caplog.set_level(logging.WARNING, logger=SECURITY_LOGGER)

    # When only one invoice is asked for (nodes and invoice share one batch call)
    response = await graphql(gateway, query, token_for(list(BOTH)), {"ids": [GB_OPEN_INVOICE_ID]})

    # Then only that invoice is shown, and the two extras are logged as dropped
    assert lying.rewritten == 1
    assert response.json() == {
        "data": {
            "nodes": [{"__typename": "Invoice", "id": GB_OPEN_INVOICE_ID}],
            "invoice": {"id": GB_OPEN_INVOICE_ID, "number": "INV-000013"},
        }
    }
    assert security_events(caplog) == [
        ("WARNING", "downstream_foreign_object", "/v1/invoices batch", 2)
    ]


async def test_an_invoice_whose_customer_is_of_another_business_does_not_show_it(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given an invoicing service that says a GB invoice is for an IN customer
    def relink(request: httpx.Request, payload: Json) -> bool:
        if not is_batch(request, "/v1/invoices"):
            return False
        for invoice in payload["data"]:
            if invoice["id"] == GB_OPEN_INVOICE_ID:
                invoice["customer_id"] = IN_CUSTOMER_ID
        return True

    lying = LyingTransport(downstreams.invoicing, relink)
    gateway = await gateway_factory(transports={"invoicing": lying})
    query = (
        f'{{ invoice(id: "{GB_OPEN_INVOICE_ID}") {{ id customer {{ id name email }} }} '
        f'business(id: "{GB_BUSINESS_ID}") {{ name }} }}'
    )
    caplog.set_level(logging.WARNING, logger=SECURITY_LOGGER)

    # When a member of both businesses reads the invoice with its customer
    response = await graphql(gateway, query, token_for(list(BOTH)))

    # Then the customer is NOT_FOUND at its path (the non-null edge nulls the invoice)
    assert lying.rewritten == 1
    assert response.json() == {
        "data": {"invoice": None, "business": {"name": GB_NAME}},
        "errors": [
            {
                "message": "Not found.",
                "locations": location(query, "customer {"),
                "path": ["invoice", "customer"],
                "extensions": {"code": "NOT_FOUND"},
            }
        ],
    }
    assert IN_CUSTOMER_ID not in response.text
    assert security_events(caplog) == [
        ("WARNING", "downstream_foreign_object", "Invoice.customer", 1)
    ]


async def test_a_payment_whose_invoice_is_of_another_business_does_not_show_it(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a payments service that says a GB payment is for an IN invoice
    def relink(request: httpx.Request, payload: Json) -> bool:
        if not is_batch(request, "/v1/payments"):
            return False
        for payment in payload["data"]:
            payment["invoice_id"] = IN_OPEN_INVOICE_ID
        return True

    lying = LyingTransport(downstreams.payments, relink)
    gateway = await gateway_factory(transports={"payments": lying})
    query = f'{{ payment(id: "{SUCCEEDED_PAYMENT_ID}") {{ id invoice {{ id number }} }} }}'
    caplog.set_level(logging.WARNING, logger=SECURITY_LOGGER)

    # When a member of both businesses reads the payment with its invoice
    response = await graphql(gateway, query, token_for(list(BOTH)))

    # Then the invoice is NOT_FOUND at its path, and the link is logged
    assert lying.rewritten == 1
    assert response.json() == {
        "data": {"payment": None},
        "errors": [
            {
                "message": "Not found.",
                "locations": location(query, "invoice {"),
                "path": ["payment", "invoice"],
                "extensions": {"code": "NOT_FOUND"},
            }
        ],
    }
    assert IN_OPEN_INVOICE_ID not in response.text
    assert security_events(caplog) == [
        ("WARNING", "downstream_foreign_object", "Payment.invoice", 1)
    ]


async def test_invoice_payments_with_a_payment_of_another_business_drops_it(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a payments service that adds an IN payment to a GB invoice's payments
    honest = await sandbox_get(
        downstreams.payments,
        PAYMENTS_TOKEN,
        "/v1/payments",
        {"invoice_ids": GB_INVOICE_WITH_PAYMENTS},
    )
    assert len(honest["data"]) >= 2
    foreign = await one_object(downstreams.payments, PAYMENTS_TOKEN, "/v1/payments", "pay_IN0001")
    foreign["invoice_id"] = GB_INVOICE_WITH_PAYMENTS

    def smuggle(request: httpx.Request, payload: Json) -> bool:
        if not is_batch(request, "/v1/payments", "invoice_ids"):
            return False
        payload["data"].insert(1, foreign)
        return True

    lying = LyingTransport(downstreams.payments, smuggle)
    gateway = await gateway_factory(transports={"payments": lying})
    query = f'{{ invoice(id: "{GB_INVOICE_WITH_PAYMENTS}") {{ id payments {{ id }} }} }}'
    caplog.set_level(logging.WARNING, logger=SECURITY_LOGGER)

    # When a member of both businesses reads the invoice's payments
    response = await graphql(gateway, query, token_for(list(BOTH)))

    # Then only the GB invoice's own payments are listed, oldest first
    assert lying.rewritten == 1
    oldest_first = sorted(honest["data"], key=lambda p: (p["created_at"], p["id"]))
    assert response.json() == {
        "data": {
            "invoice": {
                "id": GB_INVOICE_WITH_PAYMENTS,
                "payments": [{"id": p["id"]} for p in oldest_first],
            }
        }
    }
    assert "pay_IN0001" not in response.text
    assert security_events(caplog) == [
        ("WARNING", "downstream_foreign_object", "Invoice.payments", 1)
    ]


async def test_a_filtered_listing_whose_service_ignored_the_filter_shows_only_matches(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
) -> None:
    # Given an invoicing service that ignores customer_id and status filters
    def ignore_filters(request: httpx.Request, payload: Json) -> bool:
        if not is_listing(request, "/v1/invoices", GB_BUSINESS_ID):
            return False
        assert request.url.params.get("customer_id") == GB_CUSTOMER_ID
        payload["data"] = everything["data"][: int(request.url.params["limit"])]
        payload["has_more"] = True
        return True

    everything = await sandbox_get(
        downstreams.invoicing,
        INVOICING_TOKEN,
        "/v1/invoices",
        {"business_id": GB_BUSINESS_ID, "limit": "20"},
    )
    lying = LyingTransport(downstreams.invoicing, ignore_filters)
    gateway = await gateway_factory(transports={"invoicing": lying})
    query = (
        f'{{ customer(id: "{GB_CUSTOMER_ID}") {{ invoices(first: 20) '
        "{ edges { node { id customer { id } } } } } }"
    )

    # When one customer's invoices are read
    response = await graphql(gateway, query, token_for([(GB_BUSINESS_ID, Role.VIEWER)]))

    # Then only that customer's invoices are shown
    assert lying.rewritten == 1
    mine = [i["id"] for i in everything["data"] if i["customer_id"] == GB_CUSTOMER_ID]
    others = [i["id"] for i in everything["data"] if i["customer_id"] != GB_CUSTOMER_ID]
    assert mine
    assert others
    assert response.json() == {
        "data": {
            "customer": {
                "invoices": {
                    "edges": [{"node": {"id": i, "customer": {"id": GB_CUSTOMER_ID}}} for i in mine]
                }
            }
        }
    }


async def test_a_listing_longer_than_asked_shows_only_the_page_asked_for(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
) -> None:
    # Given an invoicing service that answers limit=5 with 12 invoices and has_more false
    everything = await sandbox_get(
        downstreams.invoicing,
        INVOICING_TOKEN,
        "/v1/invoices",
        {"business_id": GB_BUSINESS_ID, "limit": "12"},
    )

    def overfill(request: httpx.Request, payload: Json) -> bool:
        if not is_listing(request, "/v1/invoices", GB_BUSINESS_ID):
            return False
        payload["data"] = everything["data"]
        payload["has_more"] = False
        return True

    lying = LyingTransport(downstreams.invoicing, overfill)
    gateway = await gateway_factory(transports={"invoicing": lying})
    query = (
        f'{{ business(id: "{GB_BUSINESS_ID}") {{ invoices(first: 5) '
        "{ edges { node { id } } pageInfo { hasNextPage } } } }"
    )

    # When a page of 5 is read
    response = await graphql(gateway, query, token_for([(GB_BUSINESS_ID, Role.VIEWER)]))

    # Then 5 are shown, and the page says there are more
    assert lying.rewritten == 1
    assert response.json() == {
        "data": {
            "business": {
                "invoices": {
                    "edges": [{"node": {"id": i["id"]}} for i in everything["data"][:5]],
                    "pageInfo": {"hasNextPage": True},
                }
            }
        }
    }


BALANCE_QUERY = (
    f'{{ business(id: "{GB_BUSINESS_ID}") {{ name balance {{ available {{ amount }} }} }} }}'
)
# (Values that break the contract: tests/e2e/test_broken_values.py.)


async def test_a_balance_of_another_business_is_never_shown_as_this_ones(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a payments service that answers GB's balance with IN's
    in_balance = (
        await sandbox_get(
            downstreams.payments, PAYMENTS_TOKEN, "/v1/balances", {"business_ids": IN_BUSINESS_ID}
        )
    )["data"][0]

    def swap(request: httpx.Request, payload: Json) -> bool:
        if not is_batch(request, "/v1/balances", "business_ids"):
            return False
        payload["data"] = [in_balance]
        return True

    lying = LyingTransport(downstreams.payments, swap)
    gateway = await gateway_factory(transports={"payments": lying})
    query = BALANCE_QUERY
    caplog.set_level(logging.WARNING, logger=SECURITY_LOGGER)

    # When an owner of both businesses reads GB's balance
    response = await graphql(gateway, query, token_for(list(BOTH)))

    # Then GB has no balance to show (IN's amounts never appear), and it is logged
    assert lying.rewritten == 1
    assert response.json() == {"data": {"business": {"name": GB_NAME, "balance": None}}}
    assert security_events(caplog) == [
        ("WARNING", "downstream_foreign_object", "/v1/balances batch", 1)
    ]
