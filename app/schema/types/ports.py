"""What the schema needs from the application, as protocols: app/schema/types/ imports no service.
The read service implements ReadPort; the request context implements SchemaContext."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from app.auth.principal import Principal
from app.downstream import models
from app.downstream.errors import DownstreamInvalidObjectError
from app.reads.levels import InvoiceChildren, Listed


class ReadPort(Protocol):
    """Every object the schema shows comes through here, already admitted by the
    ownership policy (None where missing or another business's). An object of the
    caller's that broke its contract raises DownstreamInvalidObjectError where it was
    asked for by id, and is an error in `Listed.omitted` where it was left out of a list."""

    def today(self) -> date: ...

    async def business(self, business_id: str) -> models.Business | None: ...
    async def businesses(self, business_ids: Sequence[str]) -> Listed[models.Business]: ...
    async def customer(self, customer_id: str) -> models.Customer | None: ...
    async def invoice(self, invoice_id: str) -> models.Invoice | None: ...
    async def payment(self, payment_id: str) -> models.Payment | None: ...
    async def refund(self, refund_id: str) -> models.Refund | None: ...
    async def node(self, node_id: str) -> models.OwnedRecord | None: ...
    async def nodes(
        self, node_ids: Sequence[str]
    ) -> list[models.OwnedRecord | DownstreamInvalidObjectError | None]: ...
    async def balance(self, business_id: str) -> models.Balance | None: ...

    async def customer_of(self, invoice: models.Invoice) -> models.Customer | None: ...
    async def invoice_of(self, payment: models.Payment) -> models.Invoice | None: ...
    async def payment_of(self, refund: models.Refund) -> models.Payment | None: ...
    async def payments_of(self, invoice: models.Invoice) -> Listed[models.Payment]: ...
    async def refunds_of(self, payment: models.Payment) -> Listed[models.Refund]: ...

    async def customers_page(
        self, business_id: str, *, limit: int, starting_after: str | None
    ) -> Listed[models.Customer]: ...
    async def invoices_page(
        self,
        business_id: str,
        *,
        limit: int,
        starting_after: str | None,
        status: str | None,
        customer_id: str | None,
    ) -> Listed[models.Invoice]: ...
    async def invoice_children(
        self,
        invoices: Sequence[models.Invoice],
        *,
        customers: bool,
        payments: bool,
        refunds: bool,
    ) -> InvoiceChildren: ...
    def prefetch_balance(self, business_id: str) -> None: ...
    def prefetch_invoices_page(
        self,
        business_id: str,
        *,
        limit: int,
        starting_after: str | None,
        status: str | None,
        customer_id: str | None,
    ) -> None: ...
    async def payments_page(
        self, business_id: str, *, limit: int, starting_after: str | None
    ) -> Listed[models.Payment]: ...


class SchemaContext(Protocol):
    @property
    def principal(self) -> Principal: ...
    @property
    def reads(self) -> ReadPort: ...
