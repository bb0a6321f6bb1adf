"""The four benchmark scenarios: what is sent to the gateway and to the baseline, what a
right answer looks like, and the minimal downstream calls one request needs.

Pure data and checks (the dashboard's document is read from the web client's file): the
harness, the baseline and the tests share them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.seed import GB_BUSINESS_ID, INVOICES, PAYMENTS, REFUNDS

JSON = dict[str, Any]

# The web client's own document (the trusted manifest is built from it), as it ships.
DASHBOARD_QUERY = (Path(__file__).parents[1] / "clients" / "web" / "Dashboard.graphql").read_text(
    encoding="utf-8"
)

INVOICE_QUERY = """
query InvoiceDetail($id: ID!) {
  invoice(id: $id) {
    id number status currency taxRateBps dueDate isOverdue createdAt updatedAt
    lines { description quantity unitAmount { amount currency } amount { amount currency } }
    subtotal { amount currency formatted }
    tax { amount currency formatted }
    total { amount currency formatted }
    amountPaid { amount currency formatted }
    amountDue { amount currency formatted }
    customer { id name email phone }
    payments {
      id status failureCode createdAt
      amount { amount currency formatted }
      amountRefunded { amount currency formatted }
      paymentMethod { type brand last4 upiVpa }
      refunds { id status reason createdAt amount { amount currency formatted } }
    }
  }
}
"""

NODES_QUERY = """
query Nodes($ids: [ID!]!) {
  nodes(ids: $ids) {
    id
    ... on Invoice { number status total { amount currency formatted } customer { id name } }
    ... on Payment { paymentStatus: status amount { amount currency formatted } }
  }
}
"""

PAY_MUTATION = """
mutation Pay($input: PayInvoiceInput!) {
  payInvoice(input: $input) {
    payment { id status amount { amount currency } }
    invoice { id status amountDue { amount currency } }
    userErrors { code message field }
    replayed
  }
}
"""


def _newest_first(business_id: str) -> list[Any]:
    return sorted(
        (i for i in INVOICES if i.business_id == business_id),
        key=lambda i: (i.created_at, i.id),
        reverse=True,
    )


def _detail_invoice_id() -> str:
    """A GB invoice with a payment that has a refund: every level of the detail query."""
    refunded = {r.payment_id for r in REFUNDS}
    return next(
        p.invoice_id for p in PAYMENTS if p.business_id == GB_BUSINESS_ID and p.id in refunded
    )


DETAIL_INVOICE_ID = _detail_invoice_id()
NODE_IDS: list[str] = [i.id for i in _newest_first(GB_BUSINESS_ID)[:30]] + [
    p.id for p in PAYMENTS if p.business_id == GB_BUSINESS_ID
][:20]
DASHBOARD_PAGE = 50


@dataclass(frozen=True)
class Scenario:
    key: str
    name: str
    # What the gateway gets: a GraphQL document and its variables.
    query: str
    variables: JSON
    # The baseline's route; it takes the same variables as JSON.
    baseline_path: str
    # One request's downstream calls, "METHOD /path" -> count: the least that can answer it.
    minimal_calls: Counter[str]
    # Writes change the answer each time; reads must come back byte for byte the same.
    writes: bool = False
    notes: list[str] = field(default_factory=list)

    def gateway_body(self, variables: JSON | None = None) -> JSON:
        return {"query": self.query, "variables": variables or self.variables}

    def baseline_body(self, variables: JSON | None = None) -> JSON:
        return {"variables": variables or self.variables}


DASHBOARD = Scenario(
    key="a",
    name="dashboard",
    query=DASHBOARD_QUERY,
    variables={"id": GB_BUSINESS_ID, "first": DASHBOARD_PAGE},
    baseline_path="/dashboard",
    minimal_calls=Counter(
        {
            "GET /v1/businesses": 1,
            "GET /v1/invoices": 1,
            "GET /v1/customers": 1,
            "GET /v1/balances": 1,
            "GET /v1/payments": 1,
            "GET /v1/refunds": 1,
        }
    ),
)
INVOICE_DETAIL = Scenario(
    key="b",
    name="invoice",
    query=INVOICE_QUERY,
    variables={"id": DETAIL_INVOICE_ID},
    baseline_path="/invoice",
    minimal_calls=Counter(
        {"GET /v1/invoices": 1, "GET /v1/customers": 1, "GET /v1/payments": 1, "GET /v1/refunds": 1}
    ),
)
NODES = Scenario(
    key="c",
    name="nodes",
    query=NODES_QUERY,
    variables={"ids": NODE_IDS},
    baseline_path="/nodes",
    minimal_calls=Counter({"GET /v1/invoices": 1, "GET /v1/payments": 1, "GET /v1/customers": 1}),
)
PAY = Scenario(
    key="d",
    name="payInvoice",
    query=PAY_MUTATION,
    # Filled per request: a unique idempotency key and one of the bench's own invoices.
    variables={
        "input": {
            "idempotencyKey": "",
            "invoiceId": "",
            "amount": {"amount": "0.01", "currency": "INR"},
            "paymentMethod": "pm_card_ok",
        }
    },
    baseline_path="/pay",
    minimal_calls=Counter(
        {
            "GET /v1/invoices": 1,
            "POST /v1/payments": 1,
            "POST /v1/invoices/{id}/payments": 1,
        }
    ),
    writes=True,
)
SCENARIOS = {s.key: s for s in (DASHBOARD, INVOICE_DETAIL, NODES, PAY)}


class ShapeError(ValueError):
    pass


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ShapeError(message)


def check_answer(scenario: Scenario, status: int, body: JSON) -> None:
    """Raises ShapeError unless this is a complete, error-free answer to `scenario`."""
    _require(status == 200, f"HTTP {status}")
    _require("errors" not in body, f"errors: {str(body.get('errors'))[:300]}")
    data = body.get("data")
    if not isinstance(data, dict):
        raise ShapeError("no data")
    if scenario is DASHBOARD:
        business = data.get("business") or {}
        _require(business.get("id") == GB_BUSINESS_ID, "wrong or missing business")
        _require(business.get("balance") is not None, "no balance")
        edges = business.get("invoices", {}).get("edges", [])
        _require(len(edges) == DASHBOARD_PAGE, f"{len(edges)} invoices, not {DASHBOARD_PAGE}")
        for edge in edges:
            node = edge["node"]
            _require(node["customer"]["id"].startswith("cus_"), "invoice without customer")
            _require(isinstance(node["payments"], list), "invoice without payments list")
        _require(
            any(p["refunds"] for e in edges for p in e["node"]["payments"]),
            "no refund anywhere: the third level was not exercised",
        )
    elif scenario is INVOICE_DETAIL:
        invoice = data.get("invoice") or {}
        _require(invoice.get("id") == DETAIL_INVOICE_ID, "wrong or missing invoice")
        _require(invoice["customer"]["id"].startswith("cus_"), "no customer")
        _require(any(p["refunds"] for p in invoice["payments"]), "no refunds")
    elif scenario is NODES:
        nodes = data.get("nodes") or []
        _require([n and n.get("id") for n in nodes] == NODE_IDS, "nodes missing or out of order")
        _require(all("customer" in n for n in nodes[:30]), "invoice nodes without customer")
    else:
        payload = data.get("payInvoice") or {}
        _require(payload.get("userErrors") == [], f"userErrors: {payload.get('userErrors')}")
        _require(payload.get("replayed") is False, "replayed")
        payment = payload.get("payment") or {}
        _require(payment.get("status") == "SUCCEEDED", "payment not succeeded")
        _require(str(payment.get("id", "")).startswith("pay_"), "no payment id")


def normalised_call(method: str, path: str) -> str:
    """ "POST /v1/invoices/inv_x/payments" -> "POST /v1/invoices/{id}/payments"."""
    parts = path.split("/")
    parts = [
        "{id}" if index >= 3 and "_" in part and not part.startswith("_") else part
        for index, part in enumerate(parts)
    ]
    return f"{method} {'/'.join(parts)}"
