"""Every object the schema shows is read here, batched through the request's loaders, and
admitted by the ownership enforcer (app/reads/ownership.py) before it leaves: an object
of a business the caller is not a member of is answered exactly as a missing one (None).
A business the caller is not a member of is not even asked for downstream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any, TypeVar

from app.auth.principal import Principal
from app.core.ids import is_object_id, type_of
from app.downstream import models
from app.downstream.errors import DownstreamError, DownstreamRejectedError
from app.downstream.invoicing import InvoicingClient
from app.downstream.payments import PaymentsClient
from app.downstream.reads import Page
from app.reads.errors import InvalidInputError
from app.reads.levels import InvoiceChildren
from app.reads.loaders import Loaders
from app.reads.ownership import OwnershipEnforcer

RecordT = TypeVar("RecordT", bound=models.ContractModel)
# business id, limit, starting_after, status, customer id
InvoicePageKey = tuple[str, int, str | None, str | None, str | None]


class ReadService:
    def __init__(
        self,
        principal: Principal,
        loaders: Loaders,
        invoicing: InvoicingClient,
        payments: PaymentsClient,
        today: Callable[[], date],
        *,
        whole_page_children: bool = True,
    ) -> None:
        self._ownership = OwnershipEnforcer(principal)
        self._loaders = loaders
        self._invoicing = invoicing
        self._payments = payments
        self._today = today
        self._invoice_pages: dict[InvoicePageKey, asyncio.Future[Page[models.Invoice]]] = {}
        # Kept here, not only in the loader: a loader forgets a failed key and would ask
        # again, and a failure must cost one call, not two.
        self._balances: dict[str, asyncio.Future[models.Balance | None]] = {}
        # Off (a lever the benchmark prices): invoice_children reads nothing, and each
        # invoice's customer, payments and refunds load field by field.
        self._whole_page_children = whole_page_children

    def today(self) -> date:
        return self._today()

    # -- single objects by id ---------------------------------------------------------

    async def business(self, business_id: str) -> models.Business | None:
        # Not a member: not even asked downstream, so a stranger's id and an unknown id
        # cost the same.
        if not is_object_id(business_id, "biz_") or not self._ownership.admits(business_id):
            return None
        return self._ownership.admitted(await self._loaders.business.load(business_id))

    async def businesses(self, business_ids: Sequence[str]) -> list[models.Business]:
        wanted = [b for b in business_ids if self._ownership.admits(b)]
        if not wanted:
            return []
        found = await self._loaders.business.load_many(wanted)
        return [
            record for record in found if record is not None and self._ownership.admitted(record)
        ]

    async def customer(self, customer_id: str) -> models.Customer | None:
        if not is_object_id(customer_id, "cus_"):
            return None
        return self._ownership.admitted(await self._loaders.customer.load(customer_id))

    async def invoice(self, invoice_id: str) -> models.Invoice | None:
        if not is_object_id(invoice_id, "inv_"):
            return None
        return self._ownership.admitted(await self._loaders.invoice.load(invoice_id))

    async def payment(self, payment_id: str) -> models.Payment | None:
        if not is_object_id(payment_id, "pay_"):
            return None
        return self._ownership.admitted(await self._loaders.payment.load(payment_id))

    async def refund(self, refund_id: str) -> models.Refund | None:
        if not is_object_id(refund_id, "re_"):
            return None
        return self._ownership.admitted(await self._loaders.refund.load(refund_id))

    async def balance(self, business_id: str) -> models.Balance | None:
        if not self._ownership.admits(business_id):
            return None
        prefetched = self._balances.get(business_id)
        if prefetched is not None:
            return self._ownership.admitted(await prefetched)
        return self._ownership.admitted(await self._loaders.balance.load(business_id))

    async def node(self, node_id: str) -> models.OwnedRecord | None:
        type_name = type_of(node_id)
        # A type the token may not read is not fetched: decided from the id's prefix.
        if type_name is None or not self._ownership.may_read_type(type_name):
            return None
        loader = {
            "Business": self.business,
            "Customer": self.customer,
            "Invoice": self.invoice,
            "Payment": self.payment,
            "Refund": self.refund,
        }[type_name]
        return await loader(node_id)

    async def nodes(self, node_ids: Sequence[str]) -> list[models.OwnedRecord | None]:
        import asyncio

        # All loads start together, so each type becomes one batch call.
        return list(await asyncio.gather(*(self.node(node_id) for node_id in node_ids)))

    # -- edges: the child must belong to the parent's business ------------------------

    async def customer_of(self, invoice: models.Invoice) -> models.Customer | None:
        customer = await self._loaders.customer.load(invoice.customer_id)
        return self._ownership.child(invoice.business_id, customer, "Invoice.customer")

    async def invoice_of(self, payment: models.Payment) -> models.Invoice | None:
        invoice = await self._loaders.invoice.load(payment.invoice_id)
        return self._ownership.child(payment.business_id, invoice, "Payment.invoice")

    async def payment_of(self, refund: models.Refund) -> models.Payment | None:
        payment = await self._loaders.payment.load(refund.payment_id)
        return self._ownership.child(refund.business_id, payment, "Refund.payment")

    async def payments_of(self, invoice: models.Invoice) -> list[models.Payment]:
        found = await self._loaders.payments_by_invoice.load(invoice.id)
        return self._payments_kept(invoice, found)

    async def refunds_of(self, payment: models.Payment) -> list[models.Refund]:
        found = await self._loaders.refunds_by_payment.load(payment.id)
        return self._refunds_kept(payment, found)

    def _payments_kept(
        self, invoice: models.Invoice, found: list[models.Payment]
    ) -> list[models.Payment]:
        kept = self._ownership.children(invoice.business_id, found, "Invoice.payments")
        for payment in kept:
            self._loaders.payment.prime(payment.id, payment)
        return sorted(kept, key=lambda p: (p.created_at, p.id))

    def _refunds_kept(
        self, payment: models.Payment, found: list[models.Refund]
    ) -> list[models.Refund]:
        kept = self._ownership.children(payment.business_id, found, "Payment.refunds")
        return sorted(kept, key=lambda r: (r.created_at, r.id))

    # -- a whole level at once: what customer_of, payments_of and refunds_of give each
    # invoice of a page, read for the page together (the same batched calls, started at
    # once), so that the schema can resolve those fields without waiting per item.

    async def invoice_children(
        self,
        invoices: Sequence[models.Invoice],
        *,
        customers: bool,
        payments: bool,
        refunds: bool,
    ) -> InvoiceChildren:
        if not self._whole_page_children:
            return InvoiceChildren()

        async def read_customers() -> dict[str, models.Customer | None]:
            found = await self._loaders.customer.load_many([i.customer_id for i in invoices])
            return {
                invoice.id: self._ownership.child(invoice.business_id, customer, "Invoice.customer")
                for invoice, customer in zip(invoices, found, strict=True)
            }

        async def read_payments() -> dict[str, list[models.Payment]]:
            lists = await self._loaders.payments_by_invoice.load_many([i.id for i in invoices])
            return {
                invoice.id: self._payments_kept(invoice, found)
                for invoice, found in zip(invoices, lists, strict=True)
            }

        async def read_refunds(paid: list[models.Payment]) -> dict[str, list[models.Refund]]:
            lists = await self._loaders.refunds_by_payment.load_many([p.id for p in paid])
            return {
                payment.id: self._refunds_kept(payment, found)
                for payment, found in zip(paid, lists, strict=True)
            }

        children = InvoiceChildren()

        async def customers_part() -> None:
            children.customers = await _outcome(read_customers())

        async def payments_part() -> None:
            children.payments = await _outcome(read_payments())
            if refunds and isinstance(children.payments, dict):
                paid = [p for kept in children.payments.values() for p in kept]
                if paid:
                    children.refunds = await _outcome(read_refunds(paid))

        await asyncio.gather(
            *([customers_part()] if customers else []), *([payments_part()] if payments else [])
        )
        return children

    # -- listings of one business (the caller's: its Business was admitted first) ----

    async def customers_page(
        self, business_id: str, *, limit: int, starting_after: str | None
    ) -> Page[models.Customer]:
        if not self._ownership.admits(business_id):
            return Page(items=[], has_more=False)
        page = await _cursor_checked(
            self._invoicing.list_customers(business_id, limit=limit, starting_after=starting_after)
        )
        for customer in page.items:
            self._loaders.customer.prime(customer.id, customer)
        return page

    # -- prefetch: a parent starts what its selected children will read, so that both
    # go downstream together instead of one after the other. Only for admitted ids:
    # a stranger's business costs no call, as before.

    def prefetch_balance(self, business_id: str) -> None:
        if business_id in self._balances or not is_object_id(business_id, "biz_"):
            return
        if self._ownership.admits(business_id):
            self._balances[business_id] = self._loaders.balance.start(business_id)

    def prefetch_invoices_page(
        self,
        business_id: str,
        *,
        limit: int,
        starting_after: str | None,
        status: str | None,
        customer_id: str | None,
    ) -> None:
        key = (business_id, limit, starting_after, status, customer_id)
        if key in self._invoice_pages or not is_object_id(business_id, "biz_"):
            return
        if not self._ownership.admits(business_id):
            return
        task = asyncio.ensure_future(self._read_invoices_page(*key))
        task.add_done_callback(_consume)
        self._invoice_pages[key] = task

    async def invoices_page(
        self,
        business_id: str,
        *,
        limit: int,
        starting_after: str | None,
        status: str | None,
        customer_id: str | None,
    ) -> Page[models.Invoice]:
        prefetched = self._invoice_pages.get(
            (business_id, limit, starting_after, status, customer_id)
        )
        if prefetched is not None:
            return await prefetched
        return await self._read_invoices_page(
            business_id, limit, starting_after, status, customer_id
        )

    async def _read_invoices_page(
        self,
        business_id: str,
        limit: int,
        starting_after: str | None,
        status: str | None,
        customer_id: str | None,
    ) -> Page[models.Invoice]:
        if not self._ownership.admits(business_id):
            return Page(items=[], has_more=False)
        page = await _cursor_checked(
            self._invoicing.list_invoices(
                business_id,
                limit=limit,
                starting_after=starting_after,
                status=status,
                customer_id=customer_id,
            )
        )
        for invoice in page.items:
            self._loaders.invoice.prime(invoice.id, invoice)
        return page

    async def payments_page(
        self, business_id: str, *, limit: int, starting_after: str | None
    ) -> Page[models.Payment]:
        if not self._ownership.admits(business_id):
            return Page(items=[], has_more=False)
        page = await _cursor_checked(
            self._payments.list_payments(business_id, limit=limit, starting_after=starting_after)
        )
        for payment in page.items:
            self._loaders.payment.prime(payment.id, payment)
        return page


OutcomeT = TypeVar("OutcomeT")


async def _outcome(read: Awaitable[OutcomeT]) -> OutcomeT | DownstreamError:
    try:
        return await read
    except DownstreamError as exc:
        return exc


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def _cursor_checked(listing: Awaitable[Page[RecordT]]) -> Page[RecordT]:
    """A cursor that decodes to an id outside this listing (another business's, or a
    forged one) is refused by the service; that is the caller's mistake, not an outage."""
    try:
        return await listing
    except DownstreamRejectedError as exc:
        if exc.status in (400, 404) and exc.param == "starting_after":
            raise InvalidInputError("after is not a cursor of this list.") from exc
        raise
