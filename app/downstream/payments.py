"""The payments service: payments, refunds, balances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.downstream.models import Balance, Payment, Refund
from app.downstream.reads import Page, batch_read, listing
from app.downstream.service import ServiceClient


class PaymentsClient:
    def __init__(self, service: ServiceClient) -> None:
        self._service = service

    async def get_payments(self, ids: Sequence[str]) -> list[Payment]:
        return await batch_read(self._service, "/v1/payments", "ids", ids, Payment, lambda p: p.id)

    async def payments_for_invoices(self, invoice_ids: Sequence[str]) -> list[Payment]:
        return await batch_read(
            self._service,
            "/v1/payments",
            "invoice_ids",
            invoice_ids,
            Payment,
            lambda p: p.invoice_id,
        )

    async def list_payments(
        self, business_id: str, *, limit: int, starting_after: str | None
    ) -> Page[Payment]:
        return await listing(
            self._service,
            "/v1/payments",
            business_id,
            Payment,
            lambda p: p.business_id,
            limit=limit,
            starting_after=starting_after,
        )

    async def get_refunds(self, ids: Sequence[str]) -> list[Refund]:
        return await batch_read(self._service, "/v1/refunds", "ids", ids, Refund, lambda r: r.id)

    async def refunds_for_payments(self, payment_ids: Sequence[str]) -> list[Refund]:
        return await batch_read(
            self._service,
            "/v1/refunds",
            "payment_ids",
            payment_ids,
            Refund,
            lambda r: r.payment_id,
        )

    async def balances(self, business_ids: Sequence[str]) -> list[Balance]:
        return await batch_read(
            self._service,
            "/v1/balances",
            "business_ids",
            business_ids,
            Balance,
            lambda b: b.business_id,
        )


class PaymentsWrites:
    """The payments service's POSTs: every one moves money, every one carries a derived
    Idempotency-Key."""

    def __init__(self, service: ServiceClient) -> None:
        self._service = service

    async def charge(self, body: Mapping[str, object], *, key: str) -> tuple[Payment, bool]:
        return await self._service.post("/v1/payments", body, Payment, idempotency_key=key)

    async def refund(
        self, payment_id: str, body: Mapping[str, object], *, key: str
    ) -> tuple[Refund, bool]:
        return await self._service.post(
            f"/v1/payments/{payment_id}/refunds", body, Refund, idempotency_key=key
        )

    async def payments_for_invoice(self, invoice_id: str) -> list[Payment]:
        """Uncached: every payment of the invoice as it is now."""
        return await PaymentsClient(self._service).payments_for_invoices([invoice_id])

    async def get_payment(self, payment_id: str) -> Payment | None:
        """Uncached: the payment as it is now."""
        found = await PaymentsClient(self._service).get_payments([payment_id])
        return found[0] if found else None
