"""The invoicing service: businesses, customers, invoices."""

from __future__ import annotations

from collections.abc import Sequence

from app.clients.models import Business, Customer, Invoice
from app.clients.reads import Page, batch_read, listing
from app.clients.service import ServiceClient


class InvoicingClient:
    def __init__(self, service: ServiceClient) -> None:
        self._service = service

    async def get_businesses(self, ids: Sequence[str]) -> list[Business]:
        return await batch_read(self._service, "/v1/businesses", "ids", ids, Business, _id)

    async def get_customers(self, ids: Sequence[str]) -> list[Customer]:
        return await batch_read(self._service, "/v1/customers", "ids", ids, Customer, _id)

    async def get_invoices(self, ids: Sequence[str]) -> list[Invoice]:
        return await batch_read(self._service, "/v1/invoices", "ids", ids, Invoice, _id)

    async def list_customers(
        self, business_id: str, *, limit: int, starting_after: str | None
    ) -> Page[Customer]:
        return await listing(
            self._service,
            "/v1/customers",
            business_id,
            Customer,
            _business,
            limit=limit,
            starting_after=starting_after,
        )

    async def list_invoices(
        self,
        business_id: str,
        *,
        limit: int,
        starting_after: str | None,
        status: str | None = None,
        customer_id: str | None = None,
    ) -> Page[Invoice]:
        filters = {}
        if status is not None:
            filters["status"] = status
        if customer_id is not None:
            filters["customer_id"] = customer_id
        page = await listing(
            self._service,
            "/v1/invoices",
            business_id,
            Invoice,
            _business,
            limit=limit,
            starting_after=starting_after,
            filters=filters,
        )
        # A filter the service ignored must not widen what the caller sees.
        if status is not None or customer_id is not None:
            kept = [
                invoice
                for invoice in page.items
                if (status is None or invoice.status == status)
                and (customer_id is None or invoice.customer_id == customer_id)
            ]
            return Page(items=kept, has_more=page.has_more)
        return page


def _id(item: Business | Customer | Invoice) -> str:
    return item.id


def _business(item: Customer | Invoice) -> str:
    return item.business_id
