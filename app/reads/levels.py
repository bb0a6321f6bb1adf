"""The children of one page of invoices, read for the whole page at once (see
ReadService.invoice_children): shared by the read service that fills it and the schema
that resolves each invoice's fields from it."""

from __future__ import annotations

from dataclasses import dataclass

from app.downstream import models
from app.downstream.errors import DownstreamError


@dataclass(slots=True)
class InvoiceChildren:
    """By parent id. A part not read is None; a part whose read failed is that error,
    which each child field then raises at its own path, as it would have had it read on
    its own."""

    customers: dict[str, models.Customer | None] | DownstreamError | None = None
    payments: dict[str, list[models.Payment]] | DownstreamError | None = None
    refunds: dict[str, list[models.Refund]] | DownstreamError | None = None
