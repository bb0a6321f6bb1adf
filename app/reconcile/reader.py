"""The reads of one reconciliation of one business, through the downstream clients.

Every page of the business's payments and of its invoices (100 a page, newest first,
`starting_after` the last id of the page before), then by batches of 100 ids: the invoices
its payments point to that the listing did not hold, and the payments its invoices list
that the payments listing did not hold (absent from the answer: unknown to the service).

A listing stops at `max_pages`, and at a page that cannot be followed (empty, or a cursor
seen before) while the service still says has_more: a lying service must not keep a
reconciliation going forever. Such a stop is reported; what was read is still compared
(drift found in a part is drift; only drift in the rest can be missed).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from app.core.deadline import Deadline
from app.downstream.invoicing import InvoicingClient
from app.downstream.models import Invoice, Payment
from app.downstream.payments import PaymentsClient
from app.downstream.reads import Page
from app.downstream.service import CallMeta, Channel, ServiceClient

PAGE_SIZE = 100
DEFAULT_MAX_PAGES = 1000
# One call's time budget: a reconciliation answers nobody, but no call may hang.
CALL_BUDGET_SECONDS = 20.0

ItemT = TypeVar("ItemT", Payment, Invoice)


@dataclass(frozen=True, slots=True)
class Sources:
    """The two services, each read through a client of its own (and its own deadline)."""

    invoicing: Channel
    payments: Channel
    request_prefix: str = "reconcile"

    def _meta(self) -> CallMeta:
        return CallMeta(
            request_id=f"{self.request_prefix}-{uuid.uuid4().hex}",
            deadline=Deadline(CALL_BUDGET_SECONDS),
        )

    def payments_client(self) -> PaymentsClient:
        return PaymentsClient(ServiceClient(self.payments, self._meta()))

    def invoicing_client(self) -> InvoicingClient:
        return InvoicingClient(ServiceClient(self.invoicing, self._meta()))


@dataclass(frozen=True, slots=True)
class Read:
    payments: list[Payment]
    invoices: list[Invoice]
    # Why a listing stopped before its end, e.g. "payments: stopped after 1000 pages".
    cut_short: list[str] = field(default_factory=list)


async def read_business(sources: Sources, business_id: str, *, max_pages: int) -> Read:
    cut_short: list[str] = []

    async def payment_page(after: str | None) -> Page[Payment]:
        return await sources.payments_client().list_payments(
            business_id, limit=PAGE_SIZE, starting_after=after
        )

    async def invoice_page(after: str | None) -> Page[Invoice]:
        return await sources.invoicing_client().list_invoices(
            business_id, limit=PAGE_SIZE, starting_after=after
        )

    payments, stop = await every_page(payment_page, max_pages)
    if stop:
        cut_short.append(f"payments: {stop}")
    invoices, stop = await every_page(invoice_page, max_pages)
    if stop:
        cut_short.append(f"invoices: {stop}")

    listed_invoices = {invoice.id for invoice in invoices}
    pointed_to = [p.invoice_id for p in payments if p.invoice_id not in listed_invoices]
    if pointed_to:
        invoices += await sources.invoicing_client().get_invoices(sorted(set(pointed_to)))

    known_payments = {payment.id for payment in payments}
    recorded = {
        payment_id
        for invoice in invoices
        if invoice.business_id == business_id
        for payment_id in invoice.payment_ids
        if payment_id not in known_payments
    }
    if recorded:
        payments += await sources.payments_client().get_payments(sorted(recorded))
    return Read(payments=payments, invoices=invoices, cut_short=cut_short)


async def every_page(
    fetch: Callable[[str | None], Awaitable[Page[ItemT]]], max_pages: int
) -> tuple[list[ItemT], str | None]:
    """Every item of a listing, once each, and why it stopped early (None: the end)."""
    items: dict[str, ItemT] = {}
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(max_pages):
        page = await fetch(cursor)
        for item in page.items:
            items.setdefault(item.id, item)
        if not page.has_more:
            return list(items.values()), None
        if not page.items:
            return list(items.values()), "an empty page said has_more"
        cursor = page.items[-1].id
        if cursor in seen:
            return list(items.values()), f"the cursor {cursor} came back"
        seen.add(cursor)
    return list(items.values()), f"stopped after {max_pages} pages (the page cap)"
