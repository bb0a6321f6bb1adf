"""Per-request batch loaders: every read of one GraphQL request that can share a
downstream call does. Built for one principal and one request, never shared, so one
caller's cached objects can never answer another's query."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader

from app.downstream import models
from app.downstream.invoicing import InvoicingClient
from app.downstream.payments import PaymentsClient
from app.downstream.reads import BATCH_LIMIT

K = TypeVar("K")
V = TypeVar("V")
RecordT = TypeVar("RecordT")


class Loader(Generic[K, V]):
    """A typed face on aiodataloader's DataLoader."""

    def __init__(self, batch: Callable[[list[K]], Coroutine[Any, Any, list[V]]]) -> None:
        self._loader: DataLoader[K, V] = DataLoader(batch_load_fn=batch, max_batch_size=BATCH_LIMIT)

    async def load(self, key: K) -> V:
        value: V = await self._loader.load(key)
        return value

    async def load_many(self, keys: Sequence[K]) -> list[V]:
        values: list[V] = await self._loader.load_many(keys)
        return values

    def start(self, key: K) -> asyncio.Future[V]:
        """Asks for `key` now without waiting: it joins the batch being collected, and a
        later `load` of it gets the same answer. A failure nobody waits for is dropped."""
        future: asyncio.Future[V] = self._loader.load(key)
        future.add_done_callback(_consume)
        return future

    def prime(self, key: K, value: V) -> None:
        self._loader.prime(key, value)


def _consume(future: asyncio.Future[Any]) -> None:
    # Retrieving the exception marks it handled: a prefetch whose reader never came (the
    # parent was not found) must not log "exception was never retrieved".
    if not future.cancelled():
        future.exception()


def by_id(
    fetch: Callable[[Sequence[str]], Awaitable[list[RecordT]]], id_of: Callable[[RecordT], str]
) -> Callable[[list[str]], Coroutine[Any, Any, list[RecordT | None]]]:
    async def batch(ids: list[str]) -> list[RecordT | None]:
        found = {id_of(record): record for record in await fetch(ids)}
        return [found.get(object_id) for object_id in ids]

    return batch


def grouped(
    fetch: Callable[[Sequence[str]], Awaitable[list[RecordT]]], key_of: Callable[[RecordT], str]
) -> Callable[[list[str]], Coroutine[Any, Any, list[list[RecordT]]]]:
    async def batch(keys: list[str]) -> list[list[RecordT]]:
        groups: dict[str, list[RecordT]] = defaultdict(list)
        for record in await fetch(keys):
            groups[key_of(record)].append(record)
        return [groups[key] for key in keys]

    return batch


class Loaders:
    def __init__(self, invoicing: InvoicingClient, payments: PaymentsClient) -> None:
        self.business = Loader[str, models.Business | None](
            by_id(invoicing.get_businesses, lambda r: r.id)
        )
        self.customer = Loader[str, models.Customer | None](
            by_id(invoicing.get_customers, lambda r: r.id)
        )
        self.invoice = Loader[str, models.Invoice | None](
            by_id(invoicing.get_invoices, lambda r: r.id)
        )
        self.payment = Loader[str, models.Payment | None](
            by_id(payments.get_payments, lambda r: r.id)
        )
        self.refund = Loader[str, models.Refund | None](by_id(payments.get_refunds, lambda r: r.id))
        self.balance = Loader[str, models.Balance | None](
            by_id(payments.balances, lambda r: r.business_id)
        )
        self.payments_by_invoice = Loader[str, list[models.Payment]](
            grouped(payments.payments_for_invoices, lambda r: r.invoice_id)
        )
        self.refunds_by_payment = Loader[str, list[models.Refund]](
            grouped(payments.refunds_for_payments, lambda r: r.payment_id)
        )
