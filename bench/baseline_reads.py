"""The baseline's three read answers: the minimal downstream calls, each level started as
soon as the ids it needs are known, shaped into the gateway's exact JSON."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, date, datetime
from typing import Any

from app.auth.principal import Principal, Role
from app.core.money import format_money, to_major_string
from app.downstream.models import (
    Balance,
    Business,
    Customer,
    Invoice,
    ListEnvelope,
    Payment,
    Refund,
)
from bench.baseline_http import JSON, RefusedError, Service

FULL_ACCESS = frozenset({Role.OWNER, Role.ADMIN, Role.ACCOUNTANT})
NOT_FOUND = {"message": "Not found.", "extensions": {"code": "NOT_FOUND"}}


def money(minor: int, currency: str, *fields: str) -> JSON:
    values = {
        "amount": to_major_string(minor, currency),
        "currency": currency,
        "formatted": format_money(minor, currency) if "formatted" in fields else "",
    }
    return {name: values[name] for name in fields}


def timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def cursor(object_id: str) -> str:
    return base64.urlsafe_b64encode(f"v1:{object_id}".encode()).decode().rstrip("=")


def by_created(records: list[Any]) -> list[Any]:
    return sorted(records, key=lambda r: (r.created_at, r.id))


def grouped(records: list[Any], key: str) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for record in records:
        groups.setdefault(getattr(record, key), []).append(record)
    return groups


# -- (a) the dashboard ------------------------------------------------------------


async def dashboard(
    invoicing: Service, payments: Service, principal: Principal, variables: JSON
) -> JSON:
    business_id, first = str(variables["id"]), int(variables["first"])
    role = _full_access(principal, business_id, "business")
    business_task = asyncio.create_task(
        invoicing.items("/v1/businesses", "ids", [business_id], Business)
    )
    balance_task = asyncio.create_task(
        payments.items("/v1/balances", "business_ids", [business_id], Balance)
    )
    page = await invoicing.read(
        "/v1/invoices",
        {"business_id": business_id, "limit": str(first)},
        ListEnvelope[Invoice],
    )
    invoices = [i for i in page.data if i.business_id == business_id][:first]
    customer_ids = list(dict.fromkeys(i.customer_id for i in invoices))
    customers_task = asyncio.create_task(
        invoicing.items("/v1/customers", "ids", customer_ids, Customer)
    )
    invoice_ids = {i.id for i in invoices}
    paid = [
        p
        for p in await payments.items(
            "/v1/payments", "invoice_ids", [i.id for i in invoices], Payment
        )
        if p.business_id == business_id and p.invoice_id in invoice_ids
    ]
    refunds = await payments.items("/v1/refunds", "payment_ids", [p.id for p in paid], Refund)
    refunds_of = grouped([r for r in refunds if r.business_id == business_id], "payment_id")
    payments_of = grouped(paid, "invoice_id")
    customers = {c.id: c for c in await customers_task if c.business_id == business_id}
    found = [b for b in await business_task if b.id == business_id]
    balances = [b for b in await balance_task if b.business_id == business_id]
    if not found:
        raise RefusedError(200, {"data": {"business": None}, "errors": [NOT_FOUND]})
    business, today = found[0], datetime.now(UTC).date()
    edges = [
        {
            "node": {
                "id": invoice.id,
                "number": invoice.number,
                "status": invoice.status.upper(),
                "dueDate": invoice.due_date.isoformat(),
                "isOverdue": _overdue(invoice, today),
                "total": money(invoice.total, invoice.currency, "amount", "currency", "formatted"),
                "amountDue": money(invoice.amount_due, invoice.currency, "amount"),
                "customer": _customer(customers[invoice.customer_id], "id", "name", "email"),
                "payments": [
                    {
                        "id": p.id,
                        "status": p.status.upper(),
                        "amount": money(p.amount, p.currency, "amount", "formatted"),
                        "paymentMethod": _method(p),
                        "refunds": [
                            {
                                "id": r.id,
                                "amount": money(r.amount, r.currency, "amount"),
                                "reason": r.reason.upper() if r.reason else None,
                            }
                            for r in by_created(refunds_of.get(p.id, []))
                        ],
                    }
                    for p in by_created(payments_of.get(invoice.id, []))
                ],
            }
        }
        for invoice in invoices
    ]
    balance = balances[0] if balances else None
    return {
        "business": {
            "id": business.id,
            "name": business.name,
            "vatNumber": business.vat_number,
            "viewerRole": role.name,
            "balance": {
                "available": [
                    money(m.amount, m.currency, "amount", "currency", "formatted")
                    for m in balance.available
                ],
                "pending": [
                    money(m.amount, m.currency, "amount", "currency") for m in balance.pending
                ],
            }
            if balance
            else None,
            "invoices": {
                "edges": edges,
                "pageInfo": {
                    "hasNextPage": page.has_more or len(page.data) > first,
                    "endCursor": cursor(invoices[-1].id) if invoices else None,
                },
            },
        }
    }


# -- (b) one invoice in detail ----------------------------------------------------


async def invoice(
    invoicing: Service, payments: Service, principal: Principal, variables: JSON
) -> JSON:
    invoice_id = str(variables["id"])
    found = await invoicing.items("/v1/invoices", "ids", [invoice_id], Invoice)
    invoice = next((i for i in found if i.id == invoice_id), None)
    if invoice is None or principal.role_in(invoice.business_id) not in FULL_ACCESS:
        raise RefusedError(200, {"data": {"invoice": None}, "errors": [NOT_FOUND]})
    business_id, currency = invoice.business_id, invoice.currency
    customer_task = asyncio.create_task(
        invoicing.items("/v1/customers", "ids", [invoice.customer_id], Customer)
    )
    paid = by_created(
        [
            p
            for p in await payments.items("/v1/payments", "invoice_ids", [invoice_id], Payment)
            if p.business_id == business_id and p.invoice_id == invoice_id
        ]
    )
    refunds = await payments.items("/v1/refunds", "payment_ids", [p.id for p in paid], Refund)
    refunds_of = grouped([r for r in refunds if r.business_id == business_id], "payment_id")
    customer = next(c for c in await customer_task if c.id == invoice.customer_id)
    full = ("amount", "currency", "formatted")
    return {
        "invoice": {
            "id": invoice.id,
            "number": invoice.number,
            "status": invoice.status.upper(),
            "currency": currency,
            "taxRateBps": invoice.tax_rate_bps,
            "dueDate": invoice.due_date.isoformat(),
            "isOverdue": _overdue(invoice, datetime.now(UTC).date()),
            "createdAt": timestamp(invoice.created_at),
            "updatedAt": timestamp(invoice.updated_at),
            "lines": [
                {
                    "description": line.description,
                    "quantity": line.quantity,
                    "unitAmount": money(line.unit_amount, currency, "amount", "currency"),
                    "amount": money(line.amount, currency, "amount", "currency"),
                }
                for line in invoice.lines
            ],
            "subtotal": money(invoice.subtotal, currency, *full),
            "tax": money(invoice.tax, currency, *full),
            "total": money(invoice.total, currency, *full),
            "amountPaid": money(invoice.amount_paid, currency, *full),
            "amountDue": money(invoice.amount_due, currency, *full),
            "customer": _customer(customer, "id", "name", "email", "phone"),
            "payments": [
                {
                    "id": p.id,
                    "status": p.status.upper(),
                    "failureCode": p.failure_code,
                    "createdAt": timestamp(p.created_at),
                    "amount": money(p.amount, p.currency, *full),
                    "amountRefunded": money(p.amount_refunded, p.currency, *full),
                    "paymentMethod": _method(p),
                    "refunds": [
                        {
                            "id": r.id,
                            "status": r.status.upper(),
                            "reason": r.reason.upper() if r.reason else None,
                            "createdAt": timestamp(r.created_at),
                            "amount": money(r.amount, r.currency, *full),
                        }
                        for r in by_created(refunds_of.get(p.id, []))
                    ],
                }
                for p in paid
            ],
        }
    }


# -- (c) nodes --------------------------------------------------------------------


async def nodes(
    invoicing: Service, payments: Service, principal: Principal, variables: JSON
) -> JSON:
    ids = [str(i) for i in variables["ids"]]
    invoice_ids = list(dict.fromkeys(i for i in ids if i.startswith("inv_")))
    payment_ids = list(dict.fromkeys(i for i in ids if i.startswith("pay_")))
    payments_task = asyncio.create_task(payments.items("/v1/payments", "ids", payment_ids, Payment))
    invoices = {
        i.id: i
        for i in await invoicing.items("/v1/invoices", "ids", invoice_ids, Invoice)
        if principal.role_in(i.business_id) is not None
    }
    customer_ids = list(dict.fromkeys(i.customer_id for i in invoices.values()))
    customers = {
        c.id: c for c in await invoicing.items("/v1/customers", "ids", customer_ids, Customer)
    }
    found_payments = {
        p.id: p for p in await payments_task if principal.role_in(p.business_id) is not None
    }
    full = ("amount", "currency", "formatted")
    out: list[JSON | None] = []
    for node_id in ids:
        if node_id in invoices:
            i = invoices[node_id]
            c = customers[i.customer_id]
            out.append(
                {
                    "id": i.id,
                    "number": i.number,
                    "status": i.status.upper(),
                    "total": money(i.total, i.currency, *full),
                    "customer": {"id": c.id, "name": c.name},
                }
            )
        elif node_id in found_payments:
            p = found_payments[node_id]
            out.append(
                {
                    "id": p.id,
                    "paymentStatus": p.status.upper(),
                    "amount": money(p.amount, p.currency, *full),
                }
            )
        else:
            out.append(None)
    return {"nodes": out}


def _full_access(principal: Principal, business_id: str, field: str) -> Role:
    role = principal.role_in(business_id)
    if role is None or role not in FULL_ACCESS:
        raise RefusedError(200, {"data": {field: None}, "errors": [NOT_FOUND]})
    return role


def _overdue(invoice: Invoice, today: date) -> bool:
    return invoice.status == "open" and invoice.due_date < today


def _customer(customer: Customer, *fields: str) -> JSON:
    values = {
        "id": customer.id,
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
    }
    return {name: values[name] for name in fields}


def _method(payment: Payment) -> JSON:
    method = payment.payment_method
    return {
        "type": method.type.upper(),
        "brand": method.brand,
        "last4": method.last4,
        "upiVpa": method.upi_vpa,
    }
