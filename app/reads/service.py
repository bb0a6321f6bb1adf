"""Every object the schema shows is read here, batched through the request's loaders, and
admitted by the ownership enforcer (app/reads/ownership.py) before it leaves: an object
of a business the caller is not a member of is answered exactly as a missing one (None).
A business the caller is not a member of is not even asked for downstream.

An object that broke its contract (app/downstream/checked.py) is reported, never shown:
asked for by id, it raises DownstreamInvalidObjectError if it names one of the caller's
businesses and is missing otherwise; left out of a list, it is an error in the list's
`Listed.omitted`. ownership.py decides what the caller may learn of it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any, TypeVar

from app.auth.principal import Principal
from app.core.ids import is_object_id, type_of
from app.downstream import models
from app.downstream.checked import BrokenObject
from app.downstream.errors import (
    DownstreamError,
    DownstreamInvalidObjectError,
    DownstreamRejectedError,
)
from app.downstream.invoicing import InvoicingClient
from app.downstream.payments import PaymentsClient
from app.downstream.reads import Page
from app.reads.errors import InvalidInputError
from app.reads.levels import InvoiceChildren, Listed
from app.reads.loaders import Loaders
from app.reads.ownership import OwnershipEnforcer, broken_error

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
        self._invoice_pages: dict[InvoicePageKey, asyncio.Future[Listed[models.Invoice]]] = {}
        # Kept here, not only in the loader: a loader forgets a failed key and would ask
        # again, and a failure must cost one call, not two.
        self._balances: dict[str, asyncio.Future[models.Balance | BrokenObject | None]] = {}
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

    async def businesses(self, business_ids: Sequence[str]) -> Listed[models.Business]:
        wanted = [b for b in business_ids if is_object_id(b, "biz_") and self._ownership.admits(b)]
        if not wanted:
            return Listed(items=[])
        found = await self._loaders.business.load_many(wanted)
        return Listed(
            items=[
                record
                for record in found
                if isinstance(record, models.Business) and self._ownership.admitted(record)
            ],
            # Asked for by the caller's own business ids: each broken one is named.
            omitted=tuple(
                broken_error(record, shown=True)
                for record in found
                if isinstance(record, BrokenObject)
            ),
        )

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
        if not is_object_id(business_id, "biz_") or not self._ownership.admits(business_id):
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

    async def nodes(
        self, node_ids: Sequence[str]
    ) -> list[models.OwnedRecord | DownstreamInvalidObjectError | None]:
        """One entry per id: the object, None, or the error for an object of the
        caller's that broke the contract (shown at that position only)."""

        async def one(node_id: str) -> models.OwnedRecord | DownstreamInvalidObjectError | None:
            try:
                return await self.node(node_id)
            except DownstreamInvalidObjectError as exc:
                return exc

        # All loads start together, so each type becomes one batch call.
        return list(await asyncio.gather(*(one(node_id) for node_id in node_ids)))

    # -- edges: the child must belong to the parent's business. An id a downstream
    # object links to is sent only if it has the contract's shape (app/downstream/
    # reads.py): any other names nothing, and the edge is "not found".

    async def customer_of(self, invoice: models.Invoice) -> models.Customer | None:
        customer = await self._loaders.customer.load(invoice.customer_id)
        return self._ownership.child(invoice.business_id, customer, "Invoice.customer")

    async def invoice_of(self, payment: models.Payment) -> models.Invoice | None:
        invoice = await self._loaders.invoice.load(payment.invoice_id)
        return self._ownership.child(payment.business_id, invoice, "Payment.invoice")

    async def payment_of(self, refund: models.Refund) -> models.Payment | None:
        payment = await self._loaders.payment.load(refund.payment_id)
        return self._ownership.child(refund.business_id, payment, "Refund.payment")

    async def payments_of(self, invoice: models.Invoice) -> Listed[models.Payment]:
        found = await self._loaders.payments_by_invoice.load(invoice.id)
        return self._payments_kept(invoice, found)

    async def refunds_of(self, payment: models.Payment) -> Listed[models.Refund]:
        found = await self._loaders.refunds_by_payment.load(payment.id)
        return self._refunds_kept(payment, found)

    def _payments_kept(
        self, invoice: models.Invoice, found: list[models.Payment | BrokenObject]
    ) -> Listed[models.Payment]:
        kept = self._ownership.children(invoice.business_id, found, "Invoice.payments")
        for payment in kept.items:
            self._loaders.payment.prime(payment.id, payment)
        return Listed(sorted(kept.items, key=lambda p: (p.created_at, p.id)), kept.omitted)

    def _refunds_kept(
        self, payment: models.Payment, found: list[models.Refund | BrokenObject]
    ) -> Listed[models.Refund]:
        kept = self._ownership.children(payment.business_id, found, "Payment.refunds")
        return Listed(sorted(kept.items, key=lambda r: (r.created_at, r.id)), kept.omitted)

    def _child(
        self, invoice: models.Invoice, found: models.Customer | BrokenObject | None
    ) -> models.Customer | DownstreamInvalidObjectError | None:
        try:
            return self._ownership.child(invoice.business_id, found, "Invoice.customer")
        except DownstreamInvalidObjectError as exc:
            return exc

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

        async def read_customers() -> dict[
            str, models.Customer | DownstreamInvalidObjectError | None
        ]:
            found = await self._loaders.customer.load_many([i.customer_id for i in invoices])
            return {
                invoice.id: self._child(invoice, customer)
                for invoice, customer in zip(invoices, found, strict=True)
            }

        async def read_payments() -> dict[str, Listed[models.Payment]]:
            lists = await self._loaders.payments_by_invoice.load_many([i.id for i in invoices])
            return {
                invoice.id: self._payments_kept(invoice, found)
                for invoice, found in zip(invoices, lists, strict=True)
            }

        async def read_refunds(paid: list[models.Payment]) -> dict[str, Listed[models.Refund]]:
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
                paid = [p for kept in children.payments.values() for p in kept.items]
                if paid:
                    children.refunds = await _outcome(read_refunds(paid))

        await asyncio.gather(
            *([customers_part()] if customers else []), *([payments_part()] if payments else [])
        )
        return children

    # -- listings of one business (the caller's: its Business was admitted first) ----

    async def customers_page(
        self, business_id: str, *, limit: int, starting_after: str | None
    ) -> Listed[models.Customer]:
        if not self._ownership.admits(business_id):
            return Listed(items=[])
        page = await _cursor_checked(
            self._invoicing.list_customers(business_id, limit=limit, starting_after=starting_after)
        )
        for customer in page.items:
            self._loaders.customer.prime(customer.id, customer)
        return self._listed(business_id, page)

    def _listed(self, business_id: str, page: Page[RecordT]) -> Listed[RecordT]:
        return Listed(page.items, self._ownership.omitted(business_id, page.broken), page.has_more)

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
    ) -> Listed[models.Invoice]:
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
    ) -> Listed[models.Invoice]:
        if not self._ownership.admits(business_id):
            return Listed(items=[])
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
        return self._listed(business_id, page)

    async def payments_page(
        self, business_id: str, *, limit: int, starting_after: str | None
    ) -> Listed[models.Payment]:
        if not self._ownership.admits(business_id):
            return Listed(items=[])
        page = await _cursor_checked(
            self._payments.list_payments(business_id, limit=limit, starting_after=starting_after)
        )
        for payment in page.items:
            self._loaders.payment.prime(payment.id, payment)
        return self._listed(business_id, page)


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
