"""The six mutations, each run through an idempotency key.

Order, for every mutation: the input was validated by the caller (nothing stored or sent
for bad input); the key is claimed (a reused, busy or finished key is answered from the
store, with nothing sent downstream); ownership, role and scope are checked (a refusal
forgets the key: nothing happened); then the state the mutation needs
(app/mutations/states.py: a refusal names the state found, is stored and replayed, and
nothing is sent); then the one downstream write, or the payInvoice saga. A definitive
outcome is stored and replayed; an unknown one (timeout, 5xx) keeps the key's recovery
point so that a retry resumes with the same downstream key.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from app.auth.principal import Principal
from app.downstream import models
from app.downstream.errors import (
    DownstreamError,
    DownstreamInvalidResponseError,
    DownstreamRejectedError,
)
from app.downstream.invoicing import InvoicingWrites
from app.downstream.payments import PaymentsWrites
from app.events import emission
from app.idempotency.keys import KeyScope, downstream_key, fingerprint
from app.idempotency.store import ClaimOutcome, IdempotencyStore, Lease, LeaseLostError
from app.mutations import inputs
from app.mutations.authority import Authority
from app.mutations.current_invoice import CurrentInvoice
from app.mutations.outcomes import UNAVAILABLE_MESSAGE, Outcome, ProblemCode, problem
from app.mutations.pay_invoice import (
    FIRST_SETTLEMENT_CHECK,
    RELAY_GRACE,
    PayInvoiceSaga,
    PaymentBusyError,
    PayPlan,
)
from app.mutations.progress import Progress, ProgressReader
from app.mutations.refusals import (
    BUSY_MESSAGE,
    refund_refusal,
    rejection,
    shown_to,
    taken_over,
)
from app.mutations.states import finalize_refusal, refused_as_it_now_is, void_refusal
from app.mutations.void_invoice import GuardedVoid
from app.outbox.store import OutboxStore
from app.reads.service import ReadService
from app.settlement.store import WatchStore

logger = logging.getLogger("gateway.mutations")

# Refusals that say "not now": the key is not kept with them, so a retry with the same
# key tries again.
_NOT_NOW = frozenset({ProblemCode.PAYMENT_IN_PROGRESS})

Build = Callable[[], Awaitable[dict[str, Any] | Outcome]]
Send = Callable[[Lease, dict[str, Any]], Awaitable[Outcome]]


class MutationService:
    def __init__(
        self,
        principal: Principal,
        reads: ReadService,
        store: IdempotencyStore,
        outbox: OutboxStore,
        invoicing: InvoicingWrites,
        payments: PaymentsWrites,
        watch: WatchStore,
        relay_grace: timedelta = RELAY_GRACE,
        first_settlement_check: timedelta = FIRST_SETTLEMENT_CHECK,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._principal = principal
        self._reads = reads
        self._store = store
        self._invoicing = invoicing
        self._payments = payments
        self._watch = watch
        self._void = GuardedVoid(store, invoicing, payments, watch, clock)
        self._current = CurrentInvoice(principal, invoicing)
        self._authority = Authority(principal)
        self._progress = ProgressReader(principal, store, watch, self._current, self._authority)
        self._saga = PayInvoiceSaga(
            store,
            outbox,
            invoicing,
            payments,
            watch,
            relay_grace=relay_grace,
            first_settlement_check=first_settlement_check,
        )

    # -- the mutations ----------------------------------------------------------------

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
                state["body"], key=_key(lease, "create_customer")
            )
            _expect(customer.business_id == command.business_id, "invoicing")
            return Outcome(objects={"customer": customer})

        return await self._single_step("createCustomer", command, build, send, "businessId")

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
                state["body"], key=_key(lease, "create_invoice")
            )
            _expect(invoice.business_id == command.business_id, "invoicing")
            return Outcome(objects={"invoice": invoice})

        return await self._single_step("createInvoice", command, build, send, "customerId")

    async def finalize_invoice(self, command: inputs.FinalizeInvoice) -> Outcome:
        outcome = await self._invoice_transition("finalizeInvoice", command.invoice_id, command)
        return shown_to(self._principal, "finalizeInvoice", outcome)

    async def void_invoice(self, command: inputs.VoidInvoice) -> Outcome:
        outcome = await self._invoice_transition("voidInvoice", command.invoice_id, command)
        return shown_to(self._principal, "voidInvoice", outcome)

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
                state["payment_id"], state["body"], key=_key(lease, "refund")
            )
            _expect(refund.payment_id == state["payment_id"], "payments")
            payment = await self._payments.get_payment(state["payment_id"])
            objects: dict[str, models.ContractModel] = {"refund": refund}
            if payment is not None:
                objects["payment"] = payment
            return Outcome(objects=objects)

        outcome = await self._single_step("refundPayment", command, build, send, "paymentId")
        return shown_to(self._principal, "refundPayment", outcome)

    async def pay_invoice(self, command: inputs.PayInvoice) -> Outcome:
        return shown_to(self._principal, "payInvoice", await self._pay_invoice(command))

    async def _pay_invoice(self, command: inputs.PayInvoice) -> Outcome:
        """Whatever the outcome, the payload carries the invoice as it now stands when
        the request ran far enough to look at it (app/mutations/current_invoice.py)."""
        claim = await self._claim("payInvoice", command)
        if isinstance(claim, Outcome):
            if claim.replayed:
                return await self._current.refreshed(claim, command.invoice_id)
            return claim
        lease, point, state = claim
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
                return await self._refused(
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
                outcome = await self._saga.start(lease, plan, self._principal.subject)
            else:
                outcome = await self._saga.resume(lease, point, state)
        except PaymentBusyError:
            await self._store.forget(lease)
            busy = problem(ProblemCode.PAYMENT_IN_PROGRESS, BUSY_MESSAGE, "input", "invoiceId")
            return self._current.attach(busy, invoice)
        except LeaseLostError:
            return taken_over()
        except DownstreamError as exc:
            # Only reads fail here (the saga handles its own writes): nothing was done.
            logger.warning("payInvoice could not read the invoice", extra={"detail": exc.detail})
            await self._store.release(lease)
            return _read_failed(exc)
        except BaseException:  # noqa: BLE001 - re-raised: whatever stops us (even cancellation) must let a retry resume now
            await self._store.release(lease)
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

        async def send(lease: Lease, state: dict[str, Any]) -> Outcome:
            try:
                if step == "void":
                    return await self._void.run(lease, state, key=_key(lease, "void"))
                invoice, _ = await self._invoicing.finalize_invoice(
                    state["invoice_id"], key=_key(lease, step)
                )
            except DownstreamRejectedError as exc:
                if exc.code != "invalid_state":
                    raise
                return await refused_as_it_now_is(self._invoicing, step, state["invoice_id"])
            _expect(
                invoice.id == state["invoice_id"] and invoice.business_id == state["business_id"],
                "invoicing",
            )
            return Outcome(objects={"invoice": invoice})

        return await self._single_step(operation, command, build, send, "invoiceId")

    async def _claim(
        self, operation: str, command: Any
    ) -> tuple[Lease, str, dict[str, Any]] | Outcome:
        scope = KeyScope(self._principal.issuer, self._principal.subject, operation)
        claim = await self._store.claim(
            scope, command.idempotency_key, fingerprint(command.fingerprint_data())
        )
        if claim.outcome is ClaimOutcome.REUSED:
            return problem(
                ProblemCode.IDEMPOTENCY_KEY_REUSED,
                "This idempotency key was already used with different input.",
                "input",
                "idempotencyKey",
            )
        if claim.outcome is ClaimOutcome.IN_USE:
            return problem(
                ProblemCode.IDEMPOTENCY_KEY_IN_USE,
                "A request with this idempotency key is still running; retry shortly.",
                "input",
                "idempotencyKey",
            )
        if claim.outcome is ClaimOutcome.REPLAY:
            replay = Outcome.from_result(claim.result or {})
            return self._authority.replay_refusal(operation, replay) or replay
        assert claim.lease is not None  # noqa: S101 - NEW and RESUMED carry one
        return claim.lease, claim.recovery_point or "claimed", claim.state or {}

    async def _single_step(
        self, operation: str, command: Any, build: Build, send: Send, id_field: str
    ) -> Outcome:
        claim = await self._claim(operation, command)
        if isinstance(claim, Outcome):
            return claim
        lease, point, state = claim
        try:
            if point == "claimed":
                try:
                    prepared = await build()
                except DownstreamInvalidResponseError as exc:
                    # A decision on an object that breaks its contract is not taken:
                    # nothing was sent, and a retry with the same key reads again.
                    await self._store.forget(lease)
                    return _read_failed(exc)
                if isinstance(prepared, Outcome):
                    return await self._refused(lease, point, prepared)
                state = prepared
                async with self._store.transaction() as connection:
                    await self._store.record_step(connection, lease, "sending", state)
            try:
                outcome = await send(lease, state)
            except DownstreamRejectedError as exc:
                rejected = rejection(exc, id_field)
                if rejected is None:
                    raise
                outcome = rejected
            if outcome.business_id is None:
                outcome.business_id = state.get("business_id")
            if {p.code for p in outcome.problems} & _NOT_NOW:
                await self._store.release(lease)
                return outcome
            async with self._store.transaction() as connection:
                await self._store.complete(connection, lease, outcome.to_result())
                # The events exist exactly when the stored outcome does (docs/events.md),
                # the business's the mutation was authorized for.
                if outcome.business_id is not None:
                    await emission.record_all(
                        connection,
                        emission.of_mutation(
                            operation, outcome.objects, succeeded=not outcome.problems
                        ),
                        business_id=outcome.business_id,
                    )
            return outcome
        except LeaseLostError:
            return taken_over()
        except DownstreamError as exc:
            logger.warning(
                "mutation paused on an unknown outcome",
                extra={"operation": operation, "detail": exc.detail},
            )
            await self._store.release(lease)
            return problem(ProblemCode.DOWNSTREAM_UNAVAILABLE, UNAVAILABLE_MESSAGE)
        except BaseException:  # noqa: BLE001 - re-raised: whatever stops us (even cancellation) must let a retry resume now
            await self._store.release(lease)
            raise

    async def _refused(self, lease: Lease, point: str, refusal: Outcome) -> Outcome:
        """Refused before anything was sent: forget the key, nothing happened. A business
        refusal (invalid state, amounts) is a definitive outcome and is stored."""
        codes = {p.code for p in refusal.problems}
        if codes & {ProblemCode.NOT_FOUND, ProblemCode.FORBIDDEN}:
            if point == "claimed":
                await self._store.forget(lease)
            else:
                await self._store.release(lease)
            return refusal
        async with self._store.transaction() as connection:
            await self._store.complete(connection, lease, refusal.to_result())
        return refusal


def _read_failed(exc: DownstreamError) -> Outcome:
    """Nothing was done: a read the decision needed failed."""
    if isinstance(exc, DownstreamInvalidResponseError):
        return problem(
            ProblemCode.DOWNSTREAM_INVALID_RESPONSE,
            f"The {exc.service} service gave an answer that breaks its contract, so nothing "
            "was done. Retry later with the same idempotency key.",
        )
    return problem(ProblemCode.DOWNSTREAM_UNAVAILABLE, UNAVAILABLE_MESSAGE)


def _key(lease: Lease, step: str) -> str:
    return downstream_key(lease.scope_digest, lease.key, step)


def _expect(condition: bool, service: str) -> None:
    if not condition:
        raise DownstreamInvalidResponseError(service, "write answer does not match the request")
