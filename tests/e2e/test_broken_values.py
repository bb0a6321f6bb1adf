"""A downstream service whose answers break the contract in one object's values: that
object is left out and reported with DOWNSTREAM_INVALID_RESPONSE at the list's path (with
its id when it has one of the contract's shape), the rest of the list answers, and no
number of the broken object is shown. A body that is not JSON is refused whole. What the
contract does NOT forbid is shown as given."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.auth.principal import Role
from sandbox.seed import GB_BUSINESS_ID, SUCCEEDED_PAYMENT_ID
from tests.e2e.conftest import (
    INVOICING_TOKEN,
    PAYMENTS_TOKEN,
    Downstreams,
    GatewayFactory,
    TokenFactory,
    graphql,
)
from tests.e2e.test_lying_downstream import (
    BALANCE_QUERY,
    GB_NAME,
    Json,
    LyingTransport,
    is_batch,
    is_listing,
    location,
    sandbox_get,
)

INVALID = {
    "invoicing": "The invoicing service gave an answer that breaks its contract.",
    "payments": "The payments service gave an answer that breaks its contract.",
}


def invalid(query: str, needle: str, path: list[str | int], service: str, **ext: Any) -> Json:
    return {
        "message": INVALID[service],
        "locations": location(query, needle),
        "path": path,
        "extensions": {"code": "DOWNSTREAM_INVALID_RESPONSE", **ext},
    }


def _set(field: str, value: Any) -> Callable[[Json], None]:
    def edit(item: Json) -> None:
        item[field] = value

    return edit


def _as_float(field: str) -> Callable[[Json], None]:
    def edit(item: Json) -> None:
        item[field] = float(item[field])

    return edit


def _negative_paid(item: Json) -> None:
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


# (the lie, whether the broken invoice's id is shown: only one of the contract's shape is)
INVOICE_LIES = [
    pytest.param(_as_float("total"), True, id="total-float"),
    pytest.param(_as_float("amount_due"), True, id="amount-due-float"),
    pytest.param(_line_float, True, id="line-amounts-float"),
    pytest.param(_set("currency", "XXX"), True, id="unknown-currency"),
    pytest.param(_set("currency", "gbp"), True, id="lowercase-currency"),
    pytest.param(_negative_paid, True, id="negative-amount"),
    pytest.param(_wrong_line_amount, True, id="line-amount-not-qty-times-unit"),
    pytest.param(_wrong_tax, True, id="tax-not-subtotal-times-rate"),
    pytest.param(_set("total", "58123"), True, id="numeric-string"),
    pytest.param(_set("amount_paid", True), True, id="boolean-amount"),
    pytest.param(_set("status", "settled"), True, id="unknown-status"),
    pytest.param(_set("due_date", "31/12/2026"), True, id="bad-date"),
    pytest.param(_set("created_at", 1767225600), True, id="timestamp-as-a-number"),
    pytest.param(_set("updated_at", "2026-01-01T00:00:00"), True, id="timestamp-without-offset"),
    pytest.param(_set("business_id", None), False, id="business-id-null"),
    pytest.param(_wrong_prefix, False, id="id-wrong-prefix"),
    pytest.param(_set("id", "inv_GB0001'--"), False, id="id-bad-characters"),
]
INVOICES_QUERY = (
    "{ viewer { id } "
    f'gb: business(id: "{GB_BUSINESS_ID}") {{ name }} '
    f'business(id: "{GB_BUSINESS_ID}") {{ invoices(first: 5) {{ edges {{ node '
    "{ id total { amount } amountPaid { amount } amountDue { amount } tax { amount } } } } } }"
)


@pytest.mark.parametrize(("lie", "id_shown"), INVOICE_LIES)
async def test_an_invoice_that_breaks_the_contract_is_left_out_and_the_rest_answers(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
    lie: Callable[[Json], None],
    id_shown: bool,
) -> None:
    # Given an invoicing service whose GB listing has one invoice that breaks the contract
    honest = await sandbox_get(
        downstreams.invoicing,
        INVOICING_TOKEN,
        "/v1/invoices",
        {"business_id": GB_BUSINESS_ID, "limit": "5"},
    )

    def corrupt(request: httpx.Request, payload: Json) -> bool:
        if not is_listing(request, "/v1/invoices", GB_BUSINESS_ID):
            return False
        lie(payload["data"][0])
        return True

    lying = LyingTransport(downstreams.invoicing, corrupt)
    gateway = await gateway_factory(transports={"invoicing": lying})

    # When the listing is read, next to fields that do not depend on it
    response = await graphql(gateway, INVOICES_QUERY, token_for([(GB_BUSINESS_ID, Role.OWNER)]))

    # Then the four others are there, and one error at the listing names what was left out
    assert lying.rewritten == 1
    body = response.json()
    broken_id = honest["data"][0]["id"]
    assert body == {
        "data": {
            "viewer": {"id": "user_test"},
            "gb": {"name": GB_NAME},
            "business": {"invoices": {"edges": body["data"]["business"]["invoices"]["edges"]}},
        },
        "errors": [
            invalid(
                INVOICES_QUERY,
                "invoices(",
                ["business", "invoices"],
                "invoicing",
                **({"id": broken_id} if id_shown else {}),
            )
        ],
    }
    edges = body["data"]["business"]["invoices"]["edges"]
    assert [edge["node"]["id"] for edge in edges] == [i["id"] for i in honest["data"][1:]]
    assert edges[0]["node"]["total"]["amount"]  # the others' numbers are shown


@pytest.mark.parametrize(
    "lie",
    [
        pytest.param(_set("amount_due", float("nan")), id="nan"),
        pytest.param(_set("total", float("inf")), id="infinity"),
    ],
)
async def test_a_listing_that_is_not_json_is_refused_whole(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
    lie: Callable[[Json], None],
) -> None:
    # Given a listing body with NaN or Infinity in it: not JSON at all
    def corrupt(request: httpx.Request, payload: Json) -> bool:
        if not is_listing(request, "/v1/invoices", GB_BUSINESS_ID):
            return False
        lie(payload["data"][0])
        return True

    lying = LyingTransport(downstreams.invoicing, corrupt)
    gateway = await gateway_factory(transports={"invoicing": lying})

    response = await graphql(gateway, INVOICES_QUERY, token_for([(GB_BUSINESS_ID, Role.OWNER)]))

    # Then the whole listing is the error (an answer that breaks the contract, not an
    # outage); the rest of the data is there
    assert lying.rewritten == 1
    assert response.json() == {
        "data": {"viewer": {"id": "user_test"}, "gb": {"name": GB_NAME}, "business": None},
        "errors": [invalid(INVOICES_QUERY, "invoices(", ["business", "invoices"], "invoicing")],
    }


PAYMENT_LIES = [
    pytest.param(_as_float("amount"), True, id="amount-float"),
    pytest.param(_set("amount", -1250), True, id="negative-amount"),
    pytest.param(_set("currency", "BTC"), True, id="unknown-currency"),
    pytest.param(_set("status", "chargeback"), True, id="unknown-status"),
    pytest.param(_set("failure_code", "stolen_card"), True, id="unknown-failure-code"),
    pytest.param(_set("payment_method", {"type": "card", "last4": "42"}), True, id="last4"),
    pytest.param(_set("id", "inv_GB9999"), False, id="id-wrong-prefix"),
]
PAYMENTS_QUERY = (
    f'{{ gb: business(id: "{GB_BUSINESS_ID}") {{ name }} '
    f'business(id: "{GB_BUSINESS_ID}") {{ payments(first: 3) '
    "{ edges { node { id amount { amount currency } amountRefunded { amount } } } } } }"
)


@pytest.mark.parametrize(("lie", "id_shown"), PAYMENT_LIES)
async def test_a_payment_that_breaks_the_contract_is_left_out_and_the_rest_answers(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
    lie: Callable[[Json], None],
    id_shown: bool,
) -> None:
    # Given a payments service whose GB payments listing has one broken payment
    honest = await sandbox_get(
        downstreams.payments,
        PAYMENTS_TOKEN,
        "/v1/payments",
        {"business_id": GB_BUSINESS_ID, "limit": "3"},
    )

    def corrupt(request: httpx.Request, payload: Json) -> bool:
        if not is_listing(request, "/v1/payments", GB_BUSINESS_ID):
            return False
        lie(payload["data"][0])
        return True

    lying = LyingTransport(downstreams.payments, corrupt)
    gateway = await gateway_factory(transports={"payments": lying})

    # When the payments are read
    response = await graphql(gateway, PAYMENTS_QUERY, token_for([(GB_BUSINESS_ID, Role.OWNER)]))

    # Then the two others, and one error for the one left out; never a wrong amount
    assert lying.rewritten == 1
    body = response.json()
    assert body == {
        "data": {
            "gb": {"name": GB_NAME},
            "business": {"payments": {"edges": body["data"]["business"]["payments"]["edges"]}},
        },
        "errors": [
            invalid(
                PAYMENTS_QUERY,
                "payments(",
                ["business", "payments"],
                "payments",
                **({"id": honest["data"][0]["id"]} if id_shown else {}),
            )
        ],
    }
    edges = body["data"]["business"]["payments"]["edges"]
    assert [edge["node"]["id"] for edge in edges] == [p["id"] for p in honest["data"][1:]]


BALANCE_LIES = [
    pytest.param(lambda b: b["available"][0].update(amount=1250.0), id="amount-float"),
    pytest.param(lambda b: b["available"][0].update(amount=float("nan")), id="amount-nan"),
    pytest.param(lambda b: b["pending"].append({"amount": 5, "currency": "ZZZ"}), id="currency"),
    pytest.param(lambda b: b["available"][0].update(amount="1250"), id="amount-string"),
    pytest.param(lambda b: b.pop("available"), id="field-missing"),
    pytest.param(lambda b: b.update(object="balances"), id="bad-const"),
]


@pytest.mark.parametrize("lie", BALANCE_LIES)
async def test_a_balance_that_breaks_the_contract_is_an_invalid_response_at_its_path(
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

    # Then the balance is null with DOWNSTREAM_INVALID_RESPONSE; the name is still there
    assert lying.rewritten == 1
    assert response.json() == {
        "data": {"business": {"name": GB_NAME, "balance": None}},
        "errors": [invalid(query, "balance", ["business", "balance"], "payments")],
    }


async def test_what_the_contract_does_not_forbid_is_shown_as_given(
    gateway_factory: GatewayFactory,
    downstreams: Downstreams,
    token_for: TokenFactory,
) -> None:
    # Given a payment refunded beyond its amount, on an invoice whose amounts paid and due
    # do not add up to its total, with optional fields absent and other timestamp forms:
    # no rule of the contracts forbids any of it
    def oddities(request: httpx.Request, payload: Json) -> bool:
        for item in payload["data"]:
            if item.get("object") == "payment":
                item["amount_refunded"] = item["amount"] + 7
                item["created_at"] = "2026-03-01t10:15:00.123456789+05:30"
                item.pop("failure_code", None)
                item["payment_method"] = {"type": "card"}
            elif item.get("object") == "invoice":
                item["amount_paid"] = 1
                item["amount_due"] = 2
                item.pop("payment_ids", None)
                item["updated_at"] = "2026-06-30T23:59:60Z"
        return True

    payments = LyingTransport(downstreams.payments, oddities)
    invoicing = LyingTransport(downstreams.invoicing, oddities)
    gateway = await gateway_factory(transports={"payments": payments, "invoicing": invoicing})
    query = (
        f'{{ payment(id: "{SUCCEEDED_PAYMENT_ID}") {{ amount {{ amount }} '
        "amountRefunded { amount } createdAt paymentMethod { type brand last4 } "
        "invoice { amountPaid { amount } amountDue { amount } updatedAt } } }"
    )

    # When they are read
    response = await graphql(gateway, query, token_for([(GB_BUSINESS_ID, Role.OWNER)]))

    # Then they are shown as given
    body = response.json()
    assert "errors" not in body, body
    payment = body["data"]["payment"]
    amount = payment["amount"]["amount"]
    assert payment == {
        "amount": {"amount": amount},
        "amountRefunded": {"amount": str(Decimal(amount) + Decimal("0.07"))},
        "createdAt": "2026-03-01T04:45:00.123456Z",
        "paymentMethod": {"type": "CARD", "brand": None, "last4": None},
        "invoice": {
            "amountPaid": {"amount": "0.01"},
            "amountDue": {"amount": "0.02"},
            # A leap second is the minute's last instant.
            "updatedAt": "2026-06-30T23:59:59Z",
        },
    }
