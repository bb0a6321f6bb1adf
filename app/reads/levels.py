"""What the read service hands the schema for a list: the objects to show and the errors
for those left out; and the children of one page of invoices, read for the whole page at
once (see ReadService.invoice_children)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from app.downstream import models
from app.downstream.errors import DownstreamError, DownstreamInvalidObjectError

ItemT = TypeVar("ItemT")


@dataclass(frozen=True, slots=True)
class Listed(Generic[ItemT]):
    """A list field's objects, and one error for each object left out of it because it
    broke the contract: the schema reports those at the list field's path."""

    items: list[ItemT]
    omitted: tuple[DownstreamInvalidObjectError, ...] = ()
    has_more: bool = False


NOTHING: Listed[object] = Listed(items=[])


@dataclass(slots=True)
class InvoiceChildren:
    """By parent id. A part not read is None; a part whose read failed is that error,
    which each child field then raises at its own path, as it would have had it read on
    its own. A customer that broke the contract is its error, raised at that invoice's
    `customer`."""

    customers: (
        dict[str, models.Customer | DownstreamInvalidObjectError | None] | DownstreamError | None
    ) = None
    payments: dict[str, Listed[models.Payment]] | DownstreamError | None = None
    refunds: dict[str, Listed[models.Refund]] | DownstreamError | None = None
