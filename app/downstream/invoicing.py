"""The invoicing service: businesses, customers, invoices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.core.ids import is_object_id
from app.downstream.models import Business, Customer, Invoice
from app.downstream.reads import Batch, Found, Page, batch_read, listing
from app.downstream.service import ServiceClient

# The contract says "has_more false" for customers and invoices by ids; of businesses it
# says only "the businesses that exist".
_BUSINESSES = Batch("/v1/businesses", "ids", "id", "biz_", whole=False)
_CUSTOMERS = Batch("/v1/customers", "ids", "id", "cus_")
_INVOICES = Batch("/v1/invoices", "ids", "id", "inv_")


class InvoicingClient:
    """Batch reads take `strict`: False (the read side) leaves an object that breaks the
    contract out of the list and hands it back in `Found.broken`; True (money decisions)
    raises DownstreamInvalidResponseError if any object of the answer breaks it."""

    def __init__(self, service: ServiceClient) -> None:
        self._service = service

    async def get_businesses(self, ids: Sequence[str], *, strict: bool = False) -> Found[Business]:
        return await batch_read(self._service, _BUSINESSES, ids, Business, strict=strict)

    async def get_customers(self, ids: Sequence[str], *, strict: bool = False) -> Found[Customer]:
        return await batch_read(self._service, _CUSTOMERS, ids, Customer, strict=strict)

    async def get_invoices(self, ids: Sequence[str], *, strict: bool = False) -> Found[Invoice]:
        return await batch_read(self._service, _INVOICES, ids, Invoice, strict=strict)

    async def list_customers(
        self, business_id: str, *, limit: int, starting_after: str | None
    ) -> Page[Customer]:
        return await listing(
            self._service,
            "/v1/customers",
            business_id,
            Customer,
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
            return Page(items=kept, has_more=page.has_more, broken=page.broken)
        return page


class InvoicingWrites:
    """The invoicing service's POSTs. Every one carries a derived Idempotency-Key."""

    def __init__(self, service: ServiceClient) -> None:
        self._service = service

    async def create_customer(
        self, body: Mapping[str, object], *, key: str
    ) -> tuple[Customer, bool]:
        return await self._service.post("/v1/customers", body, Customer, idempotency_key=key)

    async def create_invoice(self, body: Mapping[str, object], *, key: str) -> tuple[Invoice, bool]:
        return await self._service.post("/v1/invoices", body, Invoice, idempotency_key=key)

    async def finalize_invoice(self, invoice_id: str, *, key: str) -> tuple[Invoice, bool]:
        return await self._service.post(
            f"/v1/invoices/{_path_id(invoice_id)}/finalize", None, Invoice, idempotency_key=key
        )

    async def void_invoice(self, invoice_id: str, *, key: str) -> tuple[Invoice, bool]:
        return await self._service.post(
            f"/v1/invoices/{_path_id(invoice_id)}/void", None, Invoice, idempotency_key=key
        )

    async def record_payment(
        self, invoice_id: str, body: Mapping[str, object], *, key: str
    ) -> tuple[Invoice, bool]:
        return await self._service.post(
            f"/v1/invoices/{_path_id(invoice_id)}/payments", body, Invoice, idempotency_key=key
        )

    async def get_invoice(self, invoice_id: str) -> Invoice | None:
        """Uncached and strict: a saga must see the invoice as it is now, not as earlier
        in the request, and an answer that breaks the contract is refused
        (DownstreamInvalidResponseError), never read as "not found"."""
        found = await InvoicingClient(self._service).get_invoices([invoice_id], strict=True)
        return found[0] if found else None


def _path_id(invoice_id: str) -> str:
    # Only an id of the contract's shape goes into a URL path ("/", "?", ".." cannot).
    if not is_object_id(invoice_id, "inv_"):
        raise ValueError("not an invoice id")
    return invoice_id
