"""The six mutations, each run through an idempotency key.

Order, for every mutation: the input was validated by the caller (nothing stored or sent
for bad input); the region whose database keeps the key is found (app/mutations/
placement.py: with several regions, a key already stored is found where it is, else the
mutation's subject is read, ownership-checked, and its business's jurisdiction names the
region; a refusal there claims nothing); the key is claimed there (app/mutations/keyed.py:
a reused, busy or finished key is answered from the store, with nothing sent downstream);
ownership, role and scope are checked (a refusal forgets the key: nothing happened); then
the state the mutation needs (app/mutations/states.py: a refusal names the state found, is
stored and replayed, and nothing is sent); then the one downstream write, or the
payInvoice saga. A definitive outcome is stored and replayed; an unknown one (timeout,
5xx) keeps the key's recovery point so that a retry resumes with the same downstream key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from app.auth.principal import Principal
from app.downstream import models
from app.downstream.errors import DownstreamError, DownstreamRejectedError
from app.downstream.invoicing import InvoicingWrites
from app.downstream.payments import PaymentsWrites
from app.idempotency.keys import KeyScope
from app.idempotency.store import Lease, LeaseLostError
from app.mutations import inputs
from app.mutations.authority import Authority
from app.mutations.current_invoice import CurrentInvoice
from app.mutations.keyed import Build, KeyedRun, Send, expect, key_of
from app.mutations.outcomes import Outcome, ProblemCode, problem
from app.mutations.pay_invoice import (
    FIRST_SETTLEMENT_CHECK,
    RELAY_GRACE,
    PayInvoiceSaga,
    PaymentBusyError,
    PayPlan,
)
from app.mutations.placement import Placement, Subject, read_failed
from app.mutations.progress import Progress, ProgressReader
from app.mutations.records_down import records_guarded
from app.mutations.refusals import BUSY_MESSAGE, refund_refusal, shown_to, taken_over
from app.mutations.states import finalize_refusal, refused_as_it_now_is, void_refusal
from app.mutations.void_invoice import GuardedVoid
from app.reads.service import ReadService
from app.residency.jurisdictions import Jurisdictions
from app.residency.regions import Region, Regions

logger = logging.getLogger("gateway.mutations")


class MutationService:
    def __init__(
        self,
        principal: Principal,
        reads: ReadService,
        regions: Regions,
        jurisdictions: Jurisdictions,
        invoicing: InvoicingWrites,
        payments: PaymentsWrites,
        relay_grace: timedelta = RELAY_GRACE,
        first_settlement_check: timedelta = FIRST_SETTLEMENT_CHECK,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._principal = principal
        self._reads = reads
        self._invoicing = invoicing
        self._payments = payments
        self._clock = clock
        self._relay_grace = relay_grace
        self._first_settlement_check = first_settlement_check
        self._current = CurrentInvoice(principal, invoicing)
        self._authority = Authority(principal)
        self._placement = Placement(principal, reads, regions, jurisdictions)
        self._progress = ProgressReader(principal, self._placement, self._current, self._authority)

    # -- the mutations ----------------------------------------------------------------

    @records_guarded
    async def create_customer(self, command: inputs.CreateCustomer) -> Outcome:
        async def build() -> dict[str, Any] | Outcome:
            refusal = self._authority.authorize("createCustomer", command.business_id)
            if refusal:
                return refusal
            return {
                "business_id": command.business_id,
                "body": {
                    "business_id": command.business_id,
                    "name": command.name,
                    "email": command.email,
                    "phone": command.phone,
                },
            }

        async def send(lease: Lease, state: dict[str, Any]) -> Outcome:
            customer, _ = await self._invoicing.create_customer(
                state["body"], key=key_of(lease, "create_customer")
            )
            expect(customer.business_id == command.business_id, "invoicing")
            return Outcome(objects={"customer": customer})

        subject = self._placement.business("createCustomer", command.business_id)
        return await self._single_step(
            "createCustomer", command, subject, build, send, "businessId"
        )

    @records_guarded
    async def create_invoice(self, command: inputs.CreateInvoice) -> Outcome:
        async def build() -> dict[str, Any] | Outcome:
            refusal = self._authority.authorize("createInvoice", command.business_id)
            if refusal:
                return refusal
            customer = await self._reads.customer(command.customer_id)
            # Another business's customer is answered exactly like a missing one.
            if customer is None or customer.business_id != command.business_id:
                return problem(ProblemCode.NOT_FOUND, "Not found.", "input", "customerId")
            return {
                "business_id": command.business_id,
                "body": {
                    "business_id": command.business_id,
                    "customer_id": command.customer_id,
                    "currency": command.currency,
                    "due_date": command.due_date.isoformat(),
                    "tax_rate_bps": command.tax_rate_bps,
                    "lines": [
                        {
                            "description": line.description,
                            "quantity": line.quantity,
                            "unit_amount": line.unit_amount_minor,
                        }
                        for line in command.lines
                    ],
                },
            }

        async def send(lease: Lease, state: dict[str, Any]) -> Outcome:
            invoice, _ = await self._invoicing.create_invoice(
                state["body"], key=key_of(lease, "create_invoice")
            )
            expect(invoice.business_id == command.business_id, "invoicing")
            return Outcome(objects={"invoice": invoice})

        subject = self._placement.business("createInvoice", command.business_id)
        return await self._single_step("createInvoice", command, subject, build, send, "customerId")

    @records_guarded
    async def finalize_invoice(self, command: inputs.FinalizeInvoice) -> Outcome:
        outcome = await self._invoice_transition("finalizeInvoice", command.invoice_id, command)
        return shown_to(self._principal, "finalizeInvoice", outcome)

    @records_guarded
    async def void_invoice(self, command: inputs.VoidInvoice) -> Outcome:
        outcome = await self._invoice_transition("voidInvoice", command.invoice_id, command)
        return shown_to(self._principal, "voidInvoice", outcome)

    @records_guarded
    async def refund_payment(self, command: inputs.RefundPayment) -> Outcome:
        async def build() -> dict[str, Any] | Outcome:
            payment = await self._reads.payment(command.payment_id)
            if payment is None:
                return problem(ProblemCode.NOT_FOUND, "Not found.", "input", "paymentId")
            refusal = self._authority.authorize("refundPayment", payment.business_id)
            if refusal:
                return refusal
            refusal = refund_refusal(payment, command.amount)
            if refusal:
                refusal.objects["payment"] = payment
                refusal.business_id = payment.business_id
                return refusal
            refundable = payment.amount - payment.amount_refunded
            amount = command.amount.minor if command.amount else refundable
            return {
                "business_id": payment.business_id,
                "payment_id": payment.id,
                "body": {"amount": amount, "reason": command.reason},
            }

        async def send(lease: Lease, state: dict[str, Any]) -> Outcome:
            refund, _ = await self._payments.refund(
                state["payment_id"], state["body"], key=key_of(lease, "refund")
            )
            expect(refund.payment_id == state["payment_id"], "payments")
            payment = await self._payments.get_payment(state["payment_id"])
            objects: dict[str, models.ContractModel] = {"refund": refund}
            if payment is not None:
                objects["payment"] = payment
            return Outcome(objects=objects)

        subject = self._placement.payment("refundPayment", command.payment_id)
        outcome = await self._single_step(
            "refundPayment", command, subject, build, send, "paymentId"
        )
        return shown_to(self._principal, "refundPayment", outcome)

    @records_guarded
    async def pay_invoice(self, command: inputs.PayInvoice) -> Outcome:
        return shown_to(self._principal, "payInvoice", await self._pay_invoice(command))

    async def _pay_invoice(self, command: inputs.PayInvoice) -> Outcome:
        """Whatever the outcome, the payload carries the invoice as it now stands when
        the request ran far enough to look at it (app/mutations/current_invoice.py)."""
        subject = self._placement.invoice("payInvoice", command.invoice_id)
        placed = await self._placed("payInvoice", command, subject)
        if isinstance(placed, Outcome):
            return placed
        run, region = placed
        claim = await run.claim(command)
        if isinstance(claim, Outcome):
            if claim.replayed:
                return await self._current.refreshed(claim, command.invoice_id)
            return claim
        lease, point, state = claim
        saga = self._saga_in(region)
        invoice: models.Invoice | None = None
        try:
            invoice = await self._reads.invoice(command.invoice_id)
            if invoice is None:
                refusal: Outcome | None = problem(
                    ProblemCode.NOT_FOUND, "Not found.", "input", "invoiceId"
                )
            else:
                refusal = self._authority.authorize("payInvoice", invoice.business_id)
            if refusal or invoice is None:
                return await run.refused(
                    lease, point, refusal or problem(ProblemCode.NOT_FOUND, "Not found.")
                )
            if point == "claimed":
                plan = PayPlan(
                    invoice_id=invoice.id,
                    business_id=invoice.business_id,
                    amount_minor=command.amount.minor if command.amount else None,
                    currency=command.amount.currency if command.amount else None,
                    payment_method=command.payment_method,
                )
                outcome = await saga.start(lease, plan, self._principal.subject)
            else:
                outcome = await saga.resume(lease, point, state)
        except PaymentBusyError:
            await run.store.forget(lease)
            busy = problem(ProblemCode.PAYMENT_IN_PROGRESS, BUSY_MESSAGE, "input", "invoiceId")
            return self._current.attach(busy, invoice)
        except LeaseLostError:
            return taken_over()
        except DownstreamError as exc:
            # Only reads fail here (the saga handles its own writes): nothing was done.
            logger.warning("payInvoice could not read the invoice", extra={"detail": exc.detail})
            await run.store.release(lease)
            return read_failed(exc)
        except BaseException:  # noqa: BLE001 - re-raised: whatever stops us (even cancellation) must let a retry resume now
            await run.store.release(lease)
            raise
        return self._current.attach(outcome, invoice)

    async def progress(self, operation: str, key: str) -> Progress | None:
        """Where the caller's `operation` sent with `key` stands (app/mutations/progress.py)."""
        return await self._progress.read(operation, key)

    # -- the shared machinery ---------------------------------------------------------

    async def _invoice_transition(
        self, operation: str, invoice_id: str, command: inputs.FinalizeInvoice | inputs.VoidInvoice
    ) -> Outcome:
        step = "finalize" if operation == "finalizeInvoice" else "void"
        state_refusal = finalize_refusal if step == "finalize" else void_refusal

        async def build() -> dict[str, Any] | Outcome:
            invoice = await self._reads.invoice(invoice_id)
            if invoice is None:
                return problem(ProblemCode.NOT_FOUND, "Not found.", "input", "invoiceId")
            # Authorized first: a caller who may not do this learns nothing of the state.
            refusal = self._authority.authorize(operation, invoice.business_id) or state_refusal(
                invoice
            )
            if refusal is not None:
                # Stored and replayed: whose it is, so a replay is authorized again.
                refusal.business_id = invoice.business_id
                return refusal
            return {"invoice_id": invoice.id, "business_id": invoice.business_id}

        placed = await self._placed(
            operation, command, self._placement.invoice(operation, invoice_id)
        )
        if isinstance(placed, Outcome):
            return placed
        run, region = placed

        async def send(lease: Lease, state: dict[str, Any]) -> Outcome:
            try:
                if step == "void":
                    void = GuardedVoid(
                        run.store, self._invoicing, self._payments, region.watch, self._clock
                    )
                    return await void.run(lease, state, key=key_of(lease, "void"))
                invoice, _ = await self._invoicing.finalize_invoice(
                    state["invoice_id"], key=key_of(lease, step)
                )
            except DownstreamRejectedError as exc:
                if exc.code != "invalid_state":
                    raise
                return await refused_as_it_now_is(self._invoicing, step, state["invoice_id"])
            expect(
                invoice.id == state["invoice_id"] and invoice.business_id == state["business_id"],
                "invoicing",
            )
            return Outcome(objects={"invoice": invoice})

        return await run.single_step(command, build, send, "invoiceId")

    async def _placed(
        self, operation: str, command: Any, subject: Subject
    ) -> tuple[KeyedRun, Region] | Outcome:
        """The key's region and its run there, or the refusal that claims nothing."""
        scope = KeyScope(self._principal.issuer, self._principal.subject, operation)
        region = await self._placement.region_for(
            operation, scope.digest, command.idempotency_key, subject
        )
        if isinstance(region, Outcome):
            return region
        return KeyedRun(scope, self._authority, region.idempotency), region

    async def _single_step(
        self, operation: str, command: Any, subject: Subject, build: Build, send: Send, field: str
    ) -> Outcome:
        placed = await self._placed(operation, command, subject)
        if isinstance(placed, Outcome):
            return placed
        run, _ = placed
        return await run.single_step(command, build, send, field)

    def _saga_in(self, region: Region) -> PayInvoiceSaga:
        return PayInvoiceSaga(
            region.idempotency,
            region.outbox,
            self._invoicing,
            self._payments,
            region.watch,
            relay_grace=self._relay_grace,
            first_settlement_check=self._first_settlement_check,
        )
