"""The payments service: payments, refunds, balances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.core.ids import is_object_id
from app.downstream.models import Balance, Payment, Refund
from app.downstream.reads import Batch, Found, Page, batch_read, listing
from app.downstream.service import ServiceClient

# Where the contract says "has_more false": payments by invoice_ids, refunds either way.
# Of payments by ids and balances it says only "matching" and "one per known business".
_PAYMENTS = Batch("/v1/payments", "ids", "id", "pay_", whole=False)
_PAYMENTS_BY_INVOICE = Batch("/v1/payments", "invoice_ids", "invoice_id", "inv_")
_REFUNDS = Batch("/v1/refunds", "ids", "id", "re_")
_REFUNDS_BY_PAYMENT = Batch("/v1/refunds", "payment_ids", "payment_id", "pay_")
_BALANCES = Batch("/v1/balances", "business_ids", "business_id", "biz_", whole=False)


class PaymentsClient:
    """Batch reads take `strict`, as InvoicingClient's do."""

    def __init__(self, service: ServiceClient) -> None:
        self._service = service

    async def get_payments(self, ids: Sequence[str], *, strict: bool = False) -> Found[Payment]:
        return await batch_read(self._service, _PAYMENTS, ids, Payment, strict=strict)

    async def payments_for_invoices(
        self, invoice_ids: Sequence[str], *, strict: bool = False
    ) -> Found[Payment]:
        return await batch_read(
            self._service, _PAYMENTS_BY_INVOICE, invoice_ids, Payment, strict=strict
        )

    async def list_payments(
        self, business_id: str, *, limit: int, starting_after: str | None
    ) -> Page[Payment]:
        return await listing(
            self._service,
            "/v1/payments",
            business_id,
            Payment,
            limit=limit,
            starting_after=starting_after,
        )

    async def get_refunds(self, ids: Sequence[str], *, strict: bool = False) -> Found[Refund]:
        return await batch_read(self._service, _REFUNDS, ids, Refund, strict=strict)

    async def refunds_for_payments(
        self, payment_ids: Sequence[str], *, strict: bool = False
    ) -> Found[Refund]:
        return await batch_read(
            self._service, _REFUNDS_BY_PAYMENT, payment_ids, Refund, strict=strict
        )

    async def balances(
        self, business_ids: Sequence[str], *, strict: bool = False
    ) -> Found[Balance]:
        return await batch_read(self._service, _BALANCES, business_ids, Balance, strict=strict)


class PaymentsWrites:
    """The payments service's POSTs: every one moves money, every one carries a derived
    Idempotency-Key. Its reads are uncached and strict: an answer that breaks the
    contract raises DownstreamInvalidResponseError, never reads as "not found"."""

    def __init__(self, service: ServiceClient) -> None:
        self._service = service

    async def charge(self, body: Mapping[str, object], *, key: str) -> tuple[Payment, bool]:
        return await self._service.post("/v1/payments", body, Payment, idempotency_key=key)

    async def refund(
        self, payment_id: str, body: Mapping[str, object], *, key: str
    ) -> tuple[Refund, bool]:
        if not is_object_id(payment_id, "pay_"):
            # Only an id of the contract's shape goes into a URL path.
            raise ValueError("not a payment id")
        return await self._service.post(
            f"/v1/payments/{payment_id}/refunds", body, Refund, idempotency_key=key
        )

    async def get_payment(self, payment_id: str) -> Payment | None:
        """The payment as it is now."""
        found = await PaymentsClient(self._service).get_payments([payment_id], strict=True)
        return found[0] if found else None

    async def payments_for_invoice(self, invoice_id: str) -> list[Payment]:
        """Every payment of one invoice, as it is now (GET /v1/payments?invoice_ids=).
        The contract answers this whole, with has_more false: a true one breaks it."""
        return list(
            await PaymentsClient(self._service).payments_for_invoices([invoice_id], strict=True)
        )
