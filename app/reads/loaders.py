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
from app.downstream.checked import BrokenObject
from app.downstream.invoicing import InvoicingClient
from app.downstream.payments import PaymentsClient
from app.downstream.reads import BATCH_LIMIT, Found

K = TypeVar("K")
V = TypeVar("V")
RecordT = TypeVar("RecordT", bound=models.ContractModel)


class Loader(Generic[K, V]):
    """A typed face on aiodataloader's DataLoader."""

    def __init__(self, batch: Callable[[list[K]], Coroutine[Any, Any, list[V]]]) -> None:
        self._loader: DataLoader[K, V] = DataLoader(batch_load_fn=batch, max_batch_size=BATCH_LIMIT)

    # Shielded: the loader's future for a key is shared by every field that asks for it,
    # and graphql-core cancels a field's siblings when one of them fails (its
    # gather_with_cancel); unshielded, that cancelled the shared future itself, and
    # another field still waiting for it (elsewhere in the answer) got CancelledError,
    # which no field boundary catches: the request failed as a whole.
    async def load(self, key: K) -> V:
        value: V = await asyncio.shield(self._loader.load(key))
        return value

    async def load_many(self, keys: Sequence[K]) -> list[V]:
        values: list[V] = await asyncio.shield(self._loader.load_many(keys))
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
    fetch: Callable[[Sequence[str]], Awaitable[Found[RecordT]]], key_field: str = "id"
) -> Callable[[list[str]], Coroutine[Any, Any, list[RecordT | BrokenObject | None]]]:
    """One entry per key: its object, the object that broke the contract in its place
    (a broken object's key read as a string; it wins over a valid one claiming the same
    key, since the answer is then in doubt), or None."""

    async def batch(ids: list[str]) -> list[RecordT | BrokenObject | None]:
        found = await fetch(ids)
        entries: dict[str, RecordT | BrokenObject] = {
            getattr(record, key_field): record for record in found
        }
        for broken in found.broken:
            key = broken.link(key_field)
            if key is not None:
                entries[key] = broken
        return [entries.get(object_id) for object_id in ids]

    return batch


def grouped(
    fetch: Callable[[Sequence[str]], Awaitable[Found[RecordT]]], key_field: str
) -> Callable[[list[str]], Coroutine[Any, Any, list[list[RecordT | BrokenObject]]]]:
    """Per key, the objects that name it; a broken one goes with the key it names as a
    string (one that names none cannot be placed, and is only logged where it was read)."""

    async def batch(keys: list[str]) -> list[list[RecordT | BrokenObject]]:
        groups: dict[str, list[RecordT | BrokenObject]] = defaultdict(list)
        found = await fetch(keys)
        for record in found:
            groups[getattr(record, key_field)].append(record)
        for broken in found.broken:
            key = broken.link(key_field)
            if key is not None:
                groups[key].append(broken)
        return [groups[key] for key in keys]

    return batch


class Loaders:
    def __init__(self, invoicing: InvoicingClient, payments: PaymentsClient) -> None:
        self.business = Loader[str, models.Business | BrokenObject | None](
            by_id(invoicing.get_businesses)
        )
        self.customer = Loader[str, models.Customer | BrokenObject | None](
            by_id(invoicing.get_customers)
        )
        self.invoice = Loader[str, models.Invoice | BrokenObject | None](
            by_id(invoicing.get_invoices)
        )
        self.payment = Loader[str, models.Payment | BrokenObject | None](
            by_id(payments.get_payments)
        )
        self.refund = Loader[str, models.Refund | BrokenObject | None](by_id(payments.get_refunds))
        self.balance = Loader[str, models.Balance | BrokenObject | None](
            by_id(payments.balances, "business_id")
        )
        self.payments_by_invoice = Loader[str, list[models.Payment | BrokenObject]](
            grouped(payments.payments_for_invoices, "invoice_id")
        )
        self.refunds_by_payment = Loader[str, list[models.Refund | BrokenObject]](
            grouped(payments.refunds_for_payments, "payment_id")
        )
