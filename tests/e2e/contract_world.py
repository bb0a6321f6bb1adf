"""A small fake implementation of both contracts, serving a generated world of objects
(tests/downstream/contract_objects.py) the way another implementation could: batch
answers in any order, listing pages shorter than asked with has_more true, every optional
field absent or present, extra fields. And what the gateway must show of that world,
worked out from the objects themselves."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from hypothesis import strategies as st

from app.core.money import format_money
from tests.downstream.contract_objects import Json, parse_timestamp, shown_timestamp, valid

TODAY = date(2026, 6, 1)
EXPONENTS = {"JPY": 0, "KWD": 3}


@dataclass
class World:
    business: Json
    customers: list[Json]
    invoices: list[Json]
    payments: list[Json]
    refunds: list[Json]
    balance: Json
    short_pages: bool = False
    reverse_batches: bool = False
    # Objects put into a listing's answer as well (path -> (position, object)).
    planted: dict[str, tuple[int, Json]] = field(default_factory=dict)

    @property
    def business_id(self) -> str:
        business_id: str = self.business["id"]
        return business_id

    def ids(self) -> list[str]:
        objects = [self.business, *self.customers, *self.invoices, *self.payments, *self.refunds]
        return [item["id"] for item in objects]


def _unique(kind: str, size: int, status: st.SearchStrategy[str | None]) -> Any:
    return st.lists(
        status.flatmap(lambda s: valid(kind, s, showable=True)),
        max_size=size,
        unique_by=lambda item: item["id"],
    )


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """One business with customers, invoices in every status, payments and refunds in
    every status, and its balance: contract-valid objects, linked to each other."""
    business = draw(valid("Business"))
    business_id = business["id"]
    customers = draw(_unique("Customer", 3, st.none()))
    invoices = (
        draw(_unique("Invoice", 4, st.sampled_from(["draft", "open", "paid", "void"])))
        if customers
        else []
    )
    payments = (
        draw(_unique("Payment", 4, st.sampled_from(["succeeded", "pending", "failed"])))
        if invoices
        else []
    )
    refunds = (
        draw(_unique("Refund", 3, st.sampled_from(["succeeded", "pending", "failed"])))
        if payments
        else []
    )
    for customer in customers:
        customer["business_id"] = business_id
    for invoice in invoices:
        invoice["business_id"] = business_id
        invoice["customer_id"] = draw(st.sampled_from(customers))["id"]
    for payment in payments:
        payment["business_id"] = business_id
        payment["invoice_id"] = draw(st.sampled_from(invoices))["id"]
    for refund in refunds:
        refund["business_id"] = business_id
        refund["payment_id"] = draw(st.sampled_from(payments))["id"]
    balance = draw(valid("Balance"))
    balance["business_id"] = business_id
    return World(
        business,
        customers,
        invoices,
        payments,
        refunds,
        balance,
        short_pages=draw(st.booleans()),
        reverse_batches=draw(st.booleans()),
    )


# -- the fake services --------------------------------------------------------------------


class ContractServer:
    """Both services, answering GETs from `world` (set per example)."""

    def __init__(self) -> None:
        self.world: World | None = None

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        world = self.world
        assert world is not None, "no world to serve"
        params = request.url.params
        path = request.url.path
        objects = {
            "/v1/businesses": [world.business],
            "/v1/customers": world.customers,
            "/v1/invoices": world.invoices,
            "/v1/payments": world.payments,
            "/v1/refunds": world.refunds,
            "/v1/balances": [world.balance],
        }[path]
        for param, key in (
            ("ids", "id"),
            ("invoice_ids", "invoice_id"),
            ("payment_ids", "payment_id"),
            ("business_ids", "business_id"),
        ):
            if param in params:
                wanted = params[param].split(",")
                assert 1 <= len(wanted) <= 100, wanted
                found = [item for item in objects if item[key] in wanted]
                return _list(found[::-1] if world.reverse_batches else found, has_more=False)
        data, has_more = page_of(world, path, params)
        if path in world.planted:
            position, planted = world.planted[path]
            data = [*data[:position], planted, *data[position:]]
        return _list(data, has_more)


def page_of(world: World, path: str, params: Any) -> tuple[list[Json], bool]:
    """One page of a business's listing, newest first (the world's order)."""
    objects = {"/v1/customers": world.customers, "/v1/invoices": world.invoices}.get(
        path, world.payments
    )
    rest = [
        item
        for item in objects
        if item["business_id"] == params["business_id"]
        and ("status" not in params or item["status"] == params["status"])
        and ("customer_id" not in params or item["customer_id"] == params["customer_id"])
    ]
    if "starting_after" in params:
        ids = [item["id"] for item in rest]
        rest = rest[ids.index(params["starting_after"]) + 1 :]
    limit = int(params["limit"])
    size = min(limit, len(rest))
    if world.short_pages and size > 1:
        size -= 1  # the contract allows a shorter page with has_more true
    return rest[:size], len(rest) > size


def _list(data: list[Json], has_more: bool) -> httpx.Response:
    return httpx.Response(200, json={"object": "list", "data": data, "has_more": has_more})


# -- what the gateway must show -----------------------------------------------------------


def major(amount: int, currency: str) -> str:
    """Minor units as an exact major-unit string, worked out digit by digit."""
    exponent = EXPONENTS.get(currency, 2)
    digits = str(abs(amount)).rjust(exponent + 1, "0")
    whole, fraction = digits[: len(digits) - exponent], digits[len(digits) - exponent :]
    sign = "-" if amount < 0 else ""
    return f"{sign}{whole}.{fraction}" if exponent else f"{sign}{whole}"


def money(amount: int, currency: str, *fields: str) -> Json:
    values = {
        "amount": major(amount, currency),
        "currency": currency,
        # The localised form is app/core/money.py's (tests/core/test_money.py checks it).
        "formatted": format_money(amount, currency),
    }
    return {name: values[name] for name in fields}


def cursor(object_id: str) -> str:
    return base64.urlsafe_b64encode(f"v1:{object_id}".encode()).decode().rstrip("=")


def oldest_first(items: list[Json]) -> list[Json]:
    return sorted(items, key=lambda item: (parse_timestamp(item["created_at"]), item["id"]))


def upper(value: str | None) -> str | None:
    return value.upper() if value is not None else None


def method(payment: Json) -> Json:
    found = payment["payment_method"]
    return {
        "type": found["type"].upper(),
        "brand": found.get("brand"),
        "last4": found.get("last4"),
        "upiVpa": found.get("upi_vpa"),
    }


def dashboard(world: World, first: int) -> Json:
    """The web dashboard's answer (clients/web/Dashboard.graphql) for an owner."""
    business, balance = world.business, world.balance
    items, has_more = page_of(
        world, "/v1/invoices", {"business_id": world.business_id, "limit": str(first)}
    )
    customers = {c["id"]: c for c in world.customers}
    edges = []
    for invoice in items:
        customer = customers[invoice["customer_id"]]
        currency = invoice["currency"]
        payments = oldest_first([p for p in world.payments if p["invoice_id"] == invoice["id"]])
        edges.append(
            {
                "node": {
                    "id": invoice["id"],
                    "number": invoice["number"],
                    "status": invoice["status"].upper(),
                    "dueDate": invoice["due_date"],
                    "isOverdue": invoice["status"] == "open"
                    and date.fromisoformat(invoice["due_date"]) < TODAY,
                    "total": money(invoice["total"], currency, "amount", "currency", "formatted"),
                    "amountDue": money(invoice["amount_due"], currency, "amount"),
                    "customer": {
                        "id": customer["id"],
                        "name": customer["name"],
                        "email": customer["email"],
                    },
                    "payments": [dashboard_payment(world, p) for p in payments],
                }
            }
        )
    return {
        "business": {
            "id": business["id"],
            "name": business["name"],
            "vatNumber": business.get("vat_number"),
            "viewerRole": "OWNER",
            "balance": {
                "available": [
                    money(m["amount"], m["currency"], "amount", "currency", "formatted")
                    for m in balance["available"]
                ],
                "pending": [
                    money(m["amount"], m["currency"], "amount", "currency")
                    for m in balance["pending"]
                ],
            },
            "invoices": {
                "edges": edges,
                "pageInfo": {
                    "hasNextPage": has_more,
                    "endCursor": cursor(items[-1]["id"]) if items else None,
                },
            },
        }
    }


def dashboard_payment(world: World, payment: Json) -> Json:
    refunds = oldest_first([r for r in world.refunds if r["payment_id"] == payment["id"]])
    return {
        "id": payment["id"],
        "status": payment["status"].upper(),
        "amount": money(payment["amount"], payment["currency"], "amount", "formatted"),
        "paymentMethod": method(payment),
        "refunds": [
            {
                "id": r["id"],
                "amount": money(r["amount"], r["currency"], "amount"),
                "reason": upper(r.get("reason")),
            }
            for r in refunds
        ],
    }


NODES_QUERY = """
query Nodes($ids: [ID!]!) {
  nodes(ids: $ids) {
    __typename id
    ... on Business { name country defaultCurrency vatNumber }
    ... on Customer { name email phone createdAt }
    ... on Invoice {
      number invoiceStatus: status currency taxRateBps dueDate isOverdue createdAt updatedAt
      lines { description quantity unitAmount { amount } amount { amount } }
      subtotal { amount } tax { amount } total { amount currency }
      amountPaid { amount } amountDue { amount }
    }
    ... on Payment {
      status failureCode createdAt amount { amount currency } amountRefunded { amount }
      paymentMethod { type brand last4 upiVpa }
    }
    ... on Refund { status reason createdAt amount { amount currency } }
  }
}
"""


def nodes(world: World) -> list[Json]:
    """NODES_QUERY's answer, one entry per id of world.ids()."""
    b = world.business
    shown: list[Json] = [
        {
            "__typename": "Business",
            "id": b["id"],
            "name": b["name"],
            "country": b["country"],
            "defaultCurrency": b["default_currency"],
            "vatNumber": b.get("vat_number"),
        }
    ]
    shown += [
        {
            "__typename": "Customer",
            "id": c["id"],
            "name": c["name"],
            "email": c["email"],
            "phone": c.get("phone"),
            "createdAt": shown_timestamp(c["created_at"]),
        }
        for c in world.customers
    ]
    for i in world.invoices:
        currency = i["currency"]
        shown.append(
            {
                "__typename": "Invoice",
                "id": i["id"],
                "number": i["number"],
                "invoiceStatus": i["status"].upper(),
                "currency": currency,
                "taxRateBps": i["tax_rate_bps"],
                "dueDate": i["due_date"],
                "isOverdue": i["status"] == "open" and date.fromisoformat(i["due_date"]) < TODAY,
                "createdAt": shown_timestamp(i["created_at"]),
                "updatedAt": shown_timestamp(i["updated_at"]),
                "lines": [
                    {
                        "description": line["description"],
                        "quantity": line["quantity"],
                        "unitAmount": money(line["unit_amount"], currency, "amount"),
                        "amount": money(line["amount"], currency, "amount"),
                    }
                    for line in i["lines"]
                ],
                "subtotal": money(i["subtotal"], currency, "amount"),
                "tax": money(i["tax"], currency, "amount"),
                "total": money(i["total"], currency, "amount", "currency"),
                "amountPaid": money(i["amount_paid"], currency, "amount"),
                "amountDue": money(i["amount_due"], currency, "amount"),
            }
        )
    shown += [
        {
            "__typename": "Payment",
            "id": p["id"],
            "status": p["status"].upper(),
            "failureCode": p.get("failure_code"),
            "createdAt": shown_timestamp(p["created_at"]),
            "amount": money(p["amount"], p["currency"], "amount", "currency"),
            "amountRefunded": money(p["amount_refunded"], p["currency"], "amount"),
            "paymentMethod": method(p),
        }
        for p in world.payments
    ]
    shown += [
        {
            "__typename": "Refund",
            "id": r["id"],
            "status": r["status"].upper(),
            "reason": upper(r.get("reason")),
            "createdAt": shown_timestamp(r["created_at"]),
            "amount": money(r["amount"], r["currency"], "amount", "currency"),
        }
        for r in world.refunds
    ]
    return shown
