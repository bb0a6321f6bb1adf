"""Shared by the mutation tests: the six mutations' documents and valid inputs, a runner
that insists on HTTP 200 without top-level errors, and the sandbox's side of the story
(call log with headers, fault injection, listings) to see what reached downstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from starlette.applications import Starlette

from sandbox.seed import (
    GB_BUSINESS_ID,
    GB_CUSTOMER_ID,
    GB_DRAFT_INVOICE_ID,
    GB_OPEN_INVOICE_ID,
    INVOICES,
    PAYMENTS,
    SUCCEEDED_PAYMENT_ID,
)
from tests.e2e.conftest import INVOICING_TOKEN, PAYMENTS_TOKEN, Downstreams, graphql

JSON = dict[str, Any]

# -- what the gateway answers ----------------------------------------------------------

USER_ERRORS = "userErrors { code message field }"
CUSTOMER = "id name email phone business { id }"
MONEY = "{ amount currency }"
INVOICE = (
    "id status currency taxRateBps dueDate"
    f" subtotal {MONEY} tax {MONEY} total {MONEY} amountPaid {MONEY} amountDue {MONEY}"
    f" lines {{ description quantity unitAmount {MONEY} amount {MONEY} }}"
    " customer { id } business { id }"
)
PAYMENT = (
    f"id status amount {MONEY} amountRefunded {MONEY} failureCode"
    " paymentMethod { type brand last4 } invoice { id }"
)
REFUND = f"id status amount {MONEY} reason payment {{ id }}"

UNAVAILABLE_MESSAGE = (
    "A service needed for this is unavailable; nothing is lost. Retry with the same "
    "idempotency key."
)
NOT_FOUND_MESSAGE = "Not found."
FORBIDDEN_MESSAGE = "Your role or token scope does not allow this action."
REUSED_MESSAGE = "This idempotency key was already used with different input."


def scope_message(scope: str) -> str:
    """The wording of a refusal for a missing partner scope, read or write."""
    return f"This token lacks the scope {scope}, which this needs."


# A due date well inside the window createInvoice accepts around the gateway's today (its
# real clock here): 30 days back to 730 ahead. tests/mutations/test_domain_rules.py tests
# the window itself on a gateway with a fixed today.
DUE_DATE = (datetime.now(UTC).date() + timedelta(days=90)).isoformat()


# -- expected views of objects, written from the seed (not from the gateway's code) ------

PLACES = {"GBP": 2, "INR": 2, "EUR": 2, "USD": 2, "JPY": 0, "KWD": 3}
# The contract's test payment methods: (type, brand, last4, failure code, status).
METHODS: dict[str, tuple[str, str | None, str | None, str | None, str]] = {
    "pm_card_ok": ("CARD", "visa", "4242", None, "SUCCEEDED"),
    "pm_card_declined": ("CARD", "visa", "0002", "card_declined", "FAILED"),
    "pm_card_insufficient_funds": ("CARD", "visa", "9995", "insufficient_funds", "FAILED"),
    "pm_bank_transfer": ("BANK_TRANSFER", None, None, None, "PENDING"),
}


def money(minor: int, currency: str = "GBP") -> JSON:
    places = PLACES[currency]
    amount = f"{Decimal(minor).scaleb(-places):.{places}f}"
    return {"amount": amount, "currency": currency}


def half_even_tax(subtotal: int, bps: int) -> int:
    quotient, remainder = divmod(subtotal * bps, 10_000)
    if 2 * remainder > 10_000 or (2 * remainder == 10_000 and quotient % 2 == 1):
        quotient += 1
    return quotient


def invoice_view(invoice_id: str, **changes: object) -> JSON:
    """The INVOICE selection of a seed invoice, with `changes` applied."""
    inv = next(i for i in INVOICES if i.id == invoice_id)
    subtotal = sum(line.quantity * line.unit_amount for line in inv.lines)
    tax = half_even_tax(subtotal, inv.tax_rate_bps)
    view: JSON = {
        "id": inv.id,
        "status": inv.status.upper(),
        "currency": inv.currency,
        "taxRateBps": inv.tax_rate_bps,
        "dueDate": inv.due_date,
        "subtotal": money(subtotal, inv.currency),
        "tax": money(tax, inv.currency),
        "total": money(subtotal + tax, inv.currency),
        "amountPaid": money(inv.amount_paid, inv.currency),
        "amountDue": money(subtotal + tax - inv.amount_paid, inv.currency),
        "lines": [
            {
                "description": line.description,
                "quantity": line.quantity,
                "unitAmount": money(line.unit_amount, inv.currency),
                "amount": money(line.quantity * line.unit_amount, inv.currency),
            }
            for line in inv.lines
        ],
        "customer": {"id": inv.customer_id},
        "business": {"id": inv.business_id},
    }
    return {**view, **changes}


def payment_view(
    payment_id: str,
    invoice_id: str,
    amount: int,
    method: str,
    *,
    refunded: int = 0,
    currency: str = "GBP",
) -> JSON:
    kind, brand, last4, failure, status = METHODS[method]
    return {
        "id": payment_id,
        "status": status,
        "amount": money(amount, currency),
        "amountRefunded": money(refunded, currency),
        "failureCode": failure,
        "paymentMethod": {"type": kind, "brand": brand, "last4": last4},
        "invoice": {"id": invoice_id},
    }


def seed_payment_view(payment_id: str, **changes: object) -> JSON:
    pay = next(p for p in PAYMENTS if p.id == payment_id)
    view = payment_view(
        pay.id,
        pay.invoice_id,
        pay.amount,
        pay.payment_method,
        refunded=pay.amount_refunded,
        currency=pay.currency,
    )
    return {**view, **changes}


@dataclass(frozen=True)
class Spec:
    """One mutation: its name, input type, payload objects and the id input that names
    the object it acts on (for ownership and role refusals)."""

    name: str
    input_type: str
    objects: Mapping[str, str]
    id_field: str
    # (service, path) of each downstream POST a success sends, in order.
    posts: tuple[tuple[str, str], ...] = field(default=())

    def document(self, selections: Mapping[str, str] | None = None) -> str:
        chosen = dict(self.objects if selections is None else selections)
        objects = " ".join(f"{name} {{ {fields} }}" for name, fields in chosen.items())
        return (
            f"mutation M($input: {self.input_type}!) {{ {self.name}(input: $input) "
            f"{{ {objects} {USER_ERRORS} replayed }} }}"
        )

    def failed(self, code: str, message: str, *path: str, replayed: bool = False) -> JSON:
        """The whole payload of a refusal: every object null, one userError."""
        return {
            **dict.fromkeys(self.objects),
            "userErrors": [{"code": code, "message": message, "field": list(path) or None}],
            "replayed": replayed,
        }


CREATE_CUSTOMER = Spec(
    "createCustomer",
    "CreateCustomerInput",
    {"customer": CUSTOMER},
    "businessId",
    (("invoicing", "/v1/customers"),),
)
CREATE_INVOICE = Spec(
    "createInvoice",
    "CreateInvoiceInput",
    {"invoice": INVOICE},
    "businessId",
    (("invoicing", "/v1/invoices"),),
)
FINALIZE_INVOICE = Spec(
    "finalizeInvoice",
    "FinalizeInvoiceInput",
    {"invoice": INVOICE},
    "invoiceId",
    (("invoicing", f"/v1/invoices/{GB_DRAFT_INVOICE_ID}/finalize"),),
)
VOID_INVOICE = Spec(
    "voidInvoice",
    "VoidInvoiceInput",
    {"invoice": INVOICE},
    "invoiceId",
    (("invoicing", f"/v1/invoices/{GB_OPEN_INVOICE_ID}/void"),),
)
PAY_INVOICE = Spec(
    "payInvoice",
    "PayInvoiceInput",
    {"payment": PAYMENT, "invoice": INVOICE},
    "invoiceId",
    (("payments", "/v1/payments"), ("invoicing", f"/v1/invoices/{GB_OPEN_INVOICE_ID}/payments")),
)
REFUND_PAYMENT = Spec(
    "refundPayment",
    "RefundPaymentInput",
    {"refund": REFUND, "payment": PAYMENT},
    "paymentId",
    (("payments", f"/v1/payments/{SUCCEEDED_PAYMENT_ID}/refunds"),),
)
SPECS = (
    CREATE_CUSTOMER,
    CREATE_INVOICE,
    FINALIZE_INVOICE,
    VOID_INVOICE,
    PAY_INVOICE,
    REFUND_PAYMENT,
)
BY_NAME = {spec.name: spec for spec in SPECS}


def valid_input(spec: Spec, key: str, **changes: object) -> JSON:
    """An input of `spec` that succeeds for an owner of the GB business on a fresh seed."""
    base: dict[str, JSON] = {
        "createCustomer": {
            "businessId": GB_BUSINESS_ID,
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "phone": "+44 20 7946 0000",
        },
        "createInvoice": {
            "businessId": GB_BUSINESS_ID,
            "customerId": GB_CUSTOMER_ID,
            "currency": "GBP",
            "dueDate": DUE_DATE,
            "taxRateBps": 1000,
            "lines": [
                {"description": "Widget", "quantity": 3, "unitAmount": "12.50"},
                {"description": "Setup", "quantity": 1, "unitAmount": "0.15"},
            ],
        },
        "finalizeInvoice": {"invoiceId": GB_DRAFT_INVOICE_ID},
        "voidInvoice": {"invoiceId": GB_OPEN_INVOICE_ID},
        "payInvoice": {
            "invoiceId": GB_OPEN_INVOICE_ID,
            "amount": {"amount": "12.50", "currency": "GBP"},
            "paymentMethod": "pm_card_ok",
        },
        "refundPayment": {
            "paymentId": SUCCEEDED_PAYMENT_ID,
            "amount": {"amount": "12.50", "currency": "GBP"},
            "reason": "REQUESTED_BY_CUSTOMER",
        },
    }
    return {"idempotencyKey": key, **base[spec.name], **changes}


# A different, equally valid input for the same mutation (for key-reuse checks).
OTHER_INPUT: dict[str, JSON] = {
    "createCustomer": {"name": "Grace Hopper"},
    "createInvoice": {"taxRateBps": 2000},
    "finalizeInvoice": {"invoiceId": "inv_GB0004"},
    "voidInvoice": {"invoiceId": GB_DRAFT_INVOICE_ID},
    "payInvoice": {"amount": {"amount": "12.51", "currency": "GBP"}},
    "refundPayment": {"reason": "DUPLICATE"},
}


@dataclass(frozen=True)
class Answer:
    status: int
    body: JSON

    def payload(self, name: str) -> JSON:
        data: JSON = self.body["data"][name]
        return data


async def execute(
    client: httpx.AsyncClient,
    spec: Spec,
    token: str,
    input_: JSON,
    selections: Mapping[str, str] | None = None,
) -> Answer:
    response = await graphql(client, spec.document(selections), token, {"input": input_})
    return Answer(response.status_code, response.json())


async def mutate(
    client: httpx.AsyncClient,
    spec: Spec,
    token: str,
    input_: JSON,
    selections: Mapping[str, str] | None = None,
) -> JSON:
    """The payload; business failures must be userErrors: HTTP 200, no top-level error."""
    answer = await execute(client, spec, token, input_, selections)
    assert answer.status == 200, answer
    assert "errors" not in answer.body, answer.body
    return answer.payload(spec.name)


# -- what reached the sandbox ----------------------------------------------------------


@dataclass(frozen=True)
class Call:
    service: str
    method: str
    path: str
    query: str
    idempotency_key: str | None
    actor_id: str | None


def _service(downstreams: Downstreams, service: str) -> tuple[Starlette, str]:
    if service == "invoicing":
        return downstreams.invoicing, INVOICING_TOKEN
    return downstreams.payments, PAYMENTS_TOKEN


class Sandbox:
    """Both sandbox services as a test sees them: the call log (`take` returns and clears
    it), fault injection and plain reads that bypass the gateway."""

    def __init__(self, downstreams: Downstreams) -> None:
        self._downstreams = downstreams

    async def _request(self, service: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        app, token = _service(self._downstreams, service)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
        ) as client:
            response = await client.request(
                method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs
            )
        response.raise_for_status()
        return response

    async def take(self) -> list[Call]:
        calls: list[Call] = []
        for service in ("invoicing", "payments"):
            for entry in (await self._request(service, "GET", "/_sandbox/calls")).json()["data"]:
                headers = entry["headers"]
                calls.append(
                    Call(
                        service,
                        entry["method"],
                        entry["path"],
                        entry["query"],
                        headers["idempotency-key"],
                        headers["x-actor-id"],
                    )
                )
            await self._request(service, "DELETE", "/_sandbox/calls")
        return calls

    async def take_posts(self) -> list[Call]:
        return [call for call in await self.take() if call.method == "POST"]

    async def faults(self, service: str, **config: object) -> None:
        await self._request(service, "PUT", "/_sandbox/faults", json=config)

    async def get(self, service: str, path: str, **params: str) -> JSON:
        body: JSON = (await self._request(service, "GET", path, params=params)).json()
        return body

    async def listing(self, service: str, path: str, **params: str) -> list[JSON]:
        """Every item of a (paged) listing, straight from the sandbox."""
        items: list[JSON] = []
        while True:
            page = await self.get(service, path, **params)
            items.extend(page["data"])
            if not page.get("has_more"):
                return items
            params = {**params, "starting_after": page["data"][-1]["id"]}
