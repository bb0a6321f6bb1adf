"""voidInvoice, guarded: an invoice with money on its way (a pending transfer, a settled
payment not yet recorded) is not voided, and no payment starts while a void is on its
way: the void holds the invoice's payment lock, as a payInvoice saga does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from app.downstream.errors import DownstreamInvalidResponseError, DownstreamRejectedError
from app.downstream.invoicing import InvoicingWrites
from app.downstream.payments import PaymentsWrites
from app.idempotency import locks
from app.idempotency.store import IdempotencyStore, Lease
from app.mutations.outcomes import Outcome, ProblemCode, problem
from app.mutations.refusals import BUSY_MESSAGE
from app.settlement.holds import holding
from app.settlement.store import WatchStore

# A void holds the invoice's payment lock this long at most (it is released as soon as the
# void's outcome is known): longer than any one request may run.
VOID_LOCK = timedelta(minutes=5)


class GuardedVoid:
    def __init__(
        self,
        store: IdempotencyStore,
        invoicing: InvoicingWrites,
        payments: PaymentsWrites,
        watch: WatchStore,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._invoicing = invoicing
        self._payments = payments
        self._watch = watch
        self._clock = clock

    async def run(self, lease: Lease, state: dict[str, Any], *, key: str) -> Outcome:
        """Void only an invoice with no money on its way, holding the invoice's payment
        lock so that no payment starts meanwhile. The lock is released once the outcome is
        known; on an unknown one (timeout, 5xx) it lapses (VOID_LOCK), because the void may
        still land."""
        invoice_id = state["invoice_id"]
        now = self._clock()
        async with self._store.transaction() as connection:
            held = await locks.acquire(
                connection, invoice_id, lease, now, expires_at=now + VOID_LOCK
            )
        if not held:
            return problem(ProblemCode.PAYMENT_IN_PROGRESS, BUSY_MESSAGE, "input", "invoiceId")
        known = False
        try:
            invoice = await self._invoicing.get_invoice(invoice_id)
            # The state is not checked again here: this may be a retry resuming a void
            # that landed, which the service replays under the same key. A state changed
            # since the check before the lock is the service's 409 (worded by the caller).
            if invoice is not None and invoice.status in ("draft", "open"):
                payments = await self._payments.payments_for_invoice(invoice_id)
                held_now = holding(
                    invoice, payments, await self._watch.open_for_invoice(invoice_id)
                )
                if held_now.total > 0:
                    known = True
                    refusal = problem(
                        ProblemCode.PAYMENT_PENDING,
                        "A payment for this invoice is on its way (not yet settled or "
                        "recorded); it can be voided once that payment settles or fails.",
                        "input",
                        "invoiceId",
                    )
                    refusal.objects["invoice"] = invoice
                    return refusal
            try:
                voided, _ = await self._invoicing.void_invoice(invoice_id, key=key)
            except DownstreamRejectedError:
                known = True
                raise
            known = True
            expect_answer(
                voided.id == invoice_id and voided.business_id == state["business_id"], "invoicing"
            )
            return Outcome(objects={"invoice": voided})
        finally:
            if known:
                async with self._store.transaction() as connection:
                    await locks.release(connection, invoice_id, lease)


def expect_answer(condition: bool, service: str) -> None:
    if not condition:
        raise DownstreamInvalidResponseError(service, "write answer does not match the request")
