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


# -- values that break the contract -----------------------------------------------------


def _set(field: str, value: Any) -> Callable[[Json], None]:
    def edit(item: Json) -> None:
        item[field] = value

    return edit


def _as_float(field: str) -> Callable[[Json], None]:
    def edit(item: Json) -> None:
        item[field] = float(item[field])

    return edit


def _unbalanced(item: Json) -> None:
    item["amount_due"] = item["amount_due"] + 1


def _negative_paid(item: Json) -> None:
    # Still adds up: only the sign is wrong.
    item["amount_paid"] = -100
    item["amount_due"] = item["total"] + 100


def _line_float(item: Json) -> None:
    item["lines"][0]["unit_amount"] = float(item["lines"][0]["unit_amount"])
    item["lines"][0]["amount"] = float(item["lines"][0]["amount"])


def _wrong_line_amount(item: Json) -> None:
    line = item["lines"][0]
    line["amount"] += 1
    item["subtotal"] += 1
    item["total"] += 1
    item["amount_due"] += 1


def _wrong_tax(item: Json) -> None:
    # Everything adds up except tax = subtotal x rate (half-even), which the contract promises.
    item["tax"] += 1
    item["total"] += 1
    item["amount_due"] += 1


def _wrong_prefix(item: Json) -> None:
    item["id"] = "cus_" + item["id"].removeprefix("inv_")


INVOICE_LIES = [
    pytest.param(_as_float("total"), id="total-float"),
    pytest.param(_as_float("amount_due"), id="amount-due-float"),
    pytest.param(_set("amount_due", float("nan")), id="amount-due-nan"),
    pytest.param(_set("total", float("inf")), id="total-infinity"),
    pytest.param(_line_float, id="line-amounts-float"),
    pytest.param(_set("currency", "XXX"), id="unknown-currency"),
    pytest.param(_set("currency", "gbp"), id="lowercase-currency"),
    pytest.param(_unbalanced, id="paid-plus-due-not-total"),
    pytest.param(_negative_paid, id="negative-amount"),
    pytest.param(_wrong_line_amount, id="line-amount-not-qty-times-unit"),
    pytest.param(_wrong_tax, id="tax-not-subtotal-times-rate"),
    pytest.param(_wrong_prefix, id="id-wrong-prefix"),
    pytest.param(_set("id", "inv_GB0001'--"), id="id-bad-characters"),
    pytest.param(_set("business_id", "GBdemo"), id="business-id-wrong-shape"),
    pytest.param(_set("total", "58123"), id="numeric-string"),
    pytest.param(_set("amount_paid", True), id="boolean-amount"),
    pytest.param(_set("status", "settled"), id="unknown-status"),
    pytest.param(_set("due_date", "31/12/2026"), id="bad-date"),
]


@pytest.mark.parametrize("lie", INVOICE_LIES)
async def test_an_invoice_that_breaks_the_contract_is_a_downstream_error_not_a_number(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
    lie: Callable[[Json], None],
) -> None:
    # Given an invoicing service whose GB listing has one invoice that breaks the contract
    def corrupt(request: httpx.Request, payload: Json) -> bool:
        if not is_listing(request, "/v1/invoices", GB_BUSINESS_ID):
            return False
        lie(payload["data"][0])
        return True

    lying = LyingTransport(downstreams.invoicing, corrupt)
    gateway = await gateway_factory(transports={"invoicing": lying})
    query = (
        "{ viewer { id } "
        f'gb: business(id: "{GB_BUSINESS_ID}") {{ name }} '
        f'business(id: "{GB_BUSINESS_ID}") {{ invoices(first: 5) {{ edges {{ node '
        "{ id total { amount } amountPaid { amount } amountDue { amount } tax { amount } } } } } }"
    )

    # When the listing is read, next to fields that do not depend on it
    response = await graphql(gateway, query, token_for([(GB_BUSINESS_ID, Role.OWNER)]))

    # Then the listing is a DOWNSTREAM_UNAVAILABLE error at its path, with no number
    # from the body shown, and the rest of the data is there
    assert lying.rewritten == 1
    assert response.status_code == 200
    assert response.json() == {
        "data": {"viewer": {"id": "user_test"}, "gb": {"name": GB_NAME}, "business": None},
        "errors": [
            {
                "message": "The invoicing service is unavailable.",
                "locations": location(query, "invoices("),
                "path": ["business", "invoices"],
                "extensions": {"code": "DOWNSTREAM_UNAVAILABLE"},
            }
        ],
    }


def _refunded_more_than_paid(item: Json) -> None:
    item["amount_refunded"] = item["amount"] + 1


PAYMENT_LIES = [
    pytest.param(_as_float("amount"), id="amount-float"),
    pytest.param(_set("amount", float("nan")), id="amount-nan"),
    pytest.param(_set("amount", -1250), id="negative-amount"),
    pytest.param(_set("currency", "BTC"), id="unknown-currency"),
    pytest.param(_refunded_more_than_paid, id="refunded-more-than-amount"),
    pytest.param(_set("id", "inv_GB9999"), id="id-wrong-prefix"),
    pytest.param(_set("status", "chargeback"), id="unknown-status"),
]


@pytest.mark.parametrize("lie", PAYMENT_LIES)
async def test_a_payment_that_breaks_the_contract_is_a_downstream_error_not_a_number(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
    lie: Callable[[Json], None],
) -> None:
    # Given a payments service whose GB payments listing has one broken payment
    def corrupt(request: httpx.Request, payload: Json) -> bool:
        if not is_listing(request, "/v1/payments", GB_BUSINESS_ID):
            return False
        lie(payload["data"][0])
        return True

    lying = LyingTransport(downstreams.payments, corrupt)
    gateway = await gateway_factory(transports={"payments": lying})
    query = (
        f'{{ gb: business(id: "{GB_BUSINESS_ID}") {{ name }} '
        f'business(id: "{GB_BUSINESS_ID}") {{ payments(first: 3) '
        "{ edges { node { id amount { amount currency } amountRefunded { amount } } } } } }"
    )

    # When the payments are read
    response = await graphql(gateway, query, token_for([(GB_BUSINESS_ID, Role.OWNER)]))

    # Then a DOWNSTREAM_UNAVAILABLE error at the path, never a wrong amount
    assert lying.rewritten == 1
    assert response.json() == {
        "data": {"gb": {"name": GB_NAME}, "business": None},
        "errors": [
            {
                "message": "The payments service is unavailable.",
                "locations": location(query, "payments("),
                "path": ["business", "payments"],
                "extensions": {"code": "DOWNSTREAM_UNAVAILABLE"},
            }
        ],
    }


BALANCE_QUERY = (
    f'{{ business(id: "{GB_BUSINESS_ID}") {{ name balance {{ available {{ amount }} }} }} }}'
)
BALANCE_LIES = [
    pytest.param(lambda b: b["available"][0].update(amount=1250.0), id="amount-float"),
    pytest.param(lambda b: b["available"][0].update(amount=float("nan")), id="amount-nan"),
    pytest.param(lambda b: b["pending"].append({"amount": 5, "currency": "ZZZ"}), id="currency"),
    pytest.param(lambda b: b["available"][0].update(amount="1250"), id="amount-string"),
    pytest.param(lambda b: b.pop("available"), id="field-missing"),
]


@pytest.mark.parametrize("lie", BALANCE_LIES)
async def test_a_balance_that_breaks_the_contract_is_a_downstream_error_not_a_number(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
    lie: Callable[[Json], None],
) -> None:
    # Given a payments service whose balance for GB breaks the contract
    def corrupt(request: httpx.Request, payload: Json) -> bool:
        if not is_batch(request, "/v1/balances", "business_ids"):
            return False
        lie(payload["data"][0])
        return True

    lying = LyingTransport(downstreams.payments, corrupt)
    gateway = await gateway_factory(transports={"payments": lying})
    query = BALANCE_QUERY

    # When an owner reads GB's balance
    response = await graphql(gateway, query, token_for([(GB_BUSINESS_ID, Role.OWNER)]))

    # Then the balance is null with DOWNSTREAM_UNAVAILABLE; the name is still there
    assert lying.rewritten == 1
    assert response.json() == {
        "data": {"business": {"name": GB_NAME, "balance": None}},
        "errors": [
            {
                "message": "The payments service is unavailable.",
                "locations": location(query, "balance"),
                "path": ["business", "balance"],
                "extensions": {"code": "DOWNSTREAM_UNAVAILABLE"},
            }
        ],
    }


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
