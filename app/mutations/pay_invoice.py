"""payInvoice as a saga: check the invoice -> charge (payments) -> record the payment on
the invoice (invoicing), compensating with a refund if recording is refused for good.

Recovery points, each written before the step it guards:
  locked        the invoice is ours (payment lock) and an outbox row will resume us
  charging      a charge may have been sent; sending it again replays it
                (what may be charged was worked out before this point, under the lock:
                the amount due less every payment still on its way, app/settlement/holds.py)
  charged       the payment succeeded; it must be recorded
  compensating  recording was refused for good; the charge must be refunded
A charge that stays pending (a bank transfer) ends the saga: the transaction that ends it
also puts the payment on the settlement watch list (app/settlement), which records it on
the invoice when it settles, days later perhaps, or frees the invoice if it fails.
The request runs as far as it can; the relay resumes any saga the request left
(crash, timeout, 5xx). Every downstream write uses a key derived from the client's
key and the step, so resuming a step can never charge, record or refund twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.downstream import models
from app.downstream.errors import (
    DownstreamError,
    DownstreamRejectedError,
)
from app.downstream.invoicing import InvoicingWrites
from app.downstream.payments import PaymentsWrites
from app.events import emission
from app.idempotency import locks
from app.idempotency.keys import downstream_key
from app.idempotency.store import IdempotencyStore, Lease
from app.mutations.outcomes import UNAVAILABLE_MESSAGE, Outcome, ProblemCode, UserProblem, problem
from app.mutations.pay_checks import check_charge, pending_refusal, refusal_of, with_invoice
from app.mutations.refusals import downstream_key_reused
from app.outbox.store import OutboxStore
from app.settlement.holds import chargeable, holding
from app.settlement.store import Taken, WatchStore

logger = logging.getLogger("gateway.sagas")

OUTBOX_KIND = "pay_invoice"
# The relay leaves a saga alone this long: the request that started it is still on it.
RELAY_GRACE = timedelta(seconds=30)
# When the settler first looks at a pending payment again (SETTLEMENT_POLL_SECONDS).
FIRST_SETTLEMENT_CHECK = timedelta(seconds=30)
_DEFINITIVE_RECORDING_REFUSALS = {"invalid_state", "amount_exceeds_due", "currency_mismatch"}


@dataclass(frozen=True, slots=True)
class PayPlan:
    invoice_id: str
    business_id: str
    amount_minor: int | None
    currency: str | None
    payment_method: str

    def to_json(self) -> dict[str, Any]:
        return {
            "invoice_id": self.invoice_id,
            "business_id": self.business_id,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "payment_method": self.payment_method,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PayPlan:
        return cls(**data)


class PaymentBusyError(Exception):
    """Another payInvoice (another key) holds this invoice right now."""


# A step either moves the saga to its next recovery point or ends it.
Step = tuple[str, dict[str, Any]] | Outcome


def _now() -> datetime:
    return datetime.now(UTC)


class PayInvoiceSaga:
    def __init__(
        self,
        store: IdempotencyStore,
        outbox: OutboxStore,
        invoicing: InvoicingWrites,
        payments: PaymentsWrites,
        watch: WatchStore,
        clock: Callable[[], datetime] = _now,
        relay_grace: timedelta = RELAY_GRACE,
        first_settlement_check: timedelta = FIRST_SETTLEMENT_CHECK,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._watch = watch
        self._first_settlement_check = first_settlement_check
        self._invoicing = invoicing
        self._payments = payments
        self._clock = clock
        self._relay_grace = relay_grace

    async def start(self, lease: Lease, plan: PayPlan, actor_id: str) -> Outcome:
        async with self._store.transaction() as connection:
            if not await locks.acquire(connection, plan.invoice_id, lease, self._clock()):
                raise PaymentBusyError(plan.invoice_id)
            outbox_id = await self._outbox.enqueue(
                connection,
                OUTBOX_KIND,
                # The relay acts for the same user: every downstream write names them.
                {"scope_digest": lease.scope_digest, "key": lease.key, "actor_id": actor_id},
                delay=self._relay_grace,
            )
            state: dict[str, Any] = {
                "plan": plan.to_json(),
                "outbox_id": outbox_id,
                "actor_id": actor_id,
            }
            await self._store.record_step(connection, lease, "locked", state)
        return await self.resume(lease, "locked", state)

    async def resume(self, lease: Lease, point: str, state: dict[str, Any]) -> Outcome:
        """Runs from `point` to the end, or to the first unknown outcome: then the key is
        released with its recovery point kept, and DOWNSTREAM_UNAVAILABLE is answered
        (with the payment, if one was taken)."""
        steps = {
            "locked": self._check_invoice,
            "charging": self._charge,
            "charged": self._record,
            "compensating": self._compensate,
        }
        try:
            while point in steps:
                step = await steps[point](lease, state)
                if isinstance(step, Outcome):
                    return step
                point, state = step
        except DownstreamError as exc:
            logger.warning(
                "payInvoice paused on an unknown outcome",
                extra={"step": point, "detail": exc.detail},
            )
            await self._store.release(lease)
            return self._paused(state)
        raise RuntimeError(f"payInvoice saga at an unknown recovery point: {point}")

    # -- steps ------------------------------------------------------------------------

    async def _check_invoice(self, lease: Lease, state: dict[str, Any]) -> Step:
        plan = PayPlan.from_json(state["plan"])
        # Fresh, under the payment lock: nobody else can pay this invoice meanwhile.
        invoice = await self._invoicing.get_invoice(plan.invoice_id)
        if invoice is None or invoice.business_id != plan.business_id:
            return await self._finish(
                lease, state, problem(ProblemCode.NOT_FOUND, "Not found.", "input", "invoiceId")
            )
        refusal = refusal_of(invoice, plan)
        if refusal is None:
            # Under the lock, so no saga of this gateway takes a payment meanwhile.
            payments = await self._payments.payments_for_invoice(plan.invoice_id)
            watched = await self._watch.open_for_invoice(plan.invoice_id)
            held = holding(invoice, payments, watched)
            room = chargeable(invoice, held)
            wanted = plan.amount_minor if plan.amount_minor is not None else room
            if held.total > 0 and (wanted > room or wanted == 0):
                refusal = pending_refusal(invoice, held.total, room, plan)
        if refusal is not None:
            refusal.objects["invoice"] = invoice
            return await self._finish(lease, state, refusal)
        state = {
            **state,
            "charge": {"amount": wanted, "currency": invoice.currency},
            "invoice": invoice.model_dump(mode="json"),
        }
        async with self._store.transaction() as connection:
            await self._store.record_step(connection, lease, "charging", state)
        return "charging", state

    async def _charge(self, lease: Lease, state: dict[str, Any]) -> Step:
        plan = PayPlan.from_json(state["plan"])
        body = {
            "business_id": plan.business_id,
            "invoice_id": plan.invoice_id,
            "amount": state["charge"]["amount"],
            "currency": state["charge"]["currency"],
            "payment_method": plan.payment_method,
        }
        try:
            payment, _ = await self._payments.charge(body, key=self._key(lease, "charge"))
        except DownstreamRejectedError as exc:
            if exc.status == 400 and exc.param == "payment_method":
                refused = problem(
                    ProblemCode.INVALID_INPUT,
                    "This payment method cannot be used for this invoice.",
                    "input",
                    "paymentMethod",
                )
                refused.objects.update(with_invoice(state))
                return await self._finish(lease, state, refused)
            if exc.code == "idempotency_key_reused":
                # Nothing was charged; paused, it would hold the invoice for ever.
                reused = downstream_key_reused()
                reused.objects.update(with_invoice(state))
                return await self._finish(lease, state, reused)
            raise
        check_charge(payment, body)
        if payment.status == "failed":
            code = (
                ProblemCode.INSUFFICIENT_FUNDS
                if payment.failure_code == "insufficient_funds"
                else ProblemCode.PAYMENT_DECLINED
            )
            message = (
                "The payment method has insufficient funds."
                if code == ProblemCode.INSUFFICIENT_FUNDS
                else "The payment method was declined."
            )
            outcome = problem(code, message, "input", "paymentMethod")
            outcome.objects.update(with_invoice(state, payment))
            return await self._finish(lease, state, outcome)
        if payment.status == "pending":
            # Settles later: watched from the same transaction that ends the saga.
            taken = Taken(
                payment_id=payment.id,
                invoice_id=plan.invoice_id,
                business_id=plan.business_id,
                amount=payment.amount,
                currency=payment.currency,
                taken_at=payment.created_at,
                scope_digest=lease.scope_digest,
                idempotency_key=lease.key,
                # Sagas started before the actor was kept in their state name the gateway.
                actor_id=str(state.get("actor_id") or "gateway"),
            )

            async def watch(connection: AsyncConnection) -> None:
                await self._watch.watch(
                    connection, taken, first_check_in=self._first_settlement_check
                )

            outcome = Outcome(objects=with_invoice(state, payment))
            return await self._finish(lease, state, outcome, also=watch)
        state = {**state, "payment": payment.model_dump(mode="json")}
        async with self._store.transaction() as connection:
            await self._store.record_step(connection, lease, "charged", state)
        return "charged", state

    async def _record(self, lease: Lease, state: dict[str, Any]) -> Step:
        plan = PayPlan.from_json(state["plan"])
        payment = models.Payment.model_validate(state["payment"])
        body = {"payment_id": payment.id, "amount": payment.amount, "currency": payment.currency}
        invoice: models.Invoice | None
        try:
            invoice, _ = await self._invoicing.record_payment(
                plan.invoice_id, body, key=self._key(lease, "record")
            )
        except DownstreamRejectedError as exc:
            if exc.code == "payment_already_recorded":
                invoice = await self._invoicing.get_invoice(plan.invoice_id)
            elif exc.code in _DEFINITIVE_RECORDING_REFUSALS or exc.status == 404:
                logger.warning(
                    "invoice refused a taken payment; refunding it",
                    extra={"invoice_id": plan.invoice_id, "code": exc.code},
                )
                state = {**state, "refusal": exc.code}
                async with self._store.transaction() as connection:
                    await self._store.record_step(connection, lease, "compensating", state)
                return "compensating", state
            else:
                raise
        objects: dict[str, models.ContractModel] = {"payment": payment}
        if invoice is not None:
            objects["invoice"] = invoice
        return await self._finish(lease, state, Outcome(objects=objects))

    async def _compensate(self, lease: Lease, state: dict[str, Any]) -> Step:
        plan = PayPlan.from_json(state["plan"])
        payment = models.Payment.model_validate(state["payment"])
        refund: models.Refund | None = None
        try:
            refund, _ = await self._payments.refund(
                payment.id,
                {"amount": payment.amount, "reason": None},
                key=self._key(lease, "compensate"),
            )
        except DownstreamRejectedError as exc:
            # Refunded already (e.g. by hand): compensation is what we wanted anyway.
            if exc.code not in ("amount_exceeds_refundable",):
                raise
        refreshed = await self._payments.get_payment(payment.id) or payment
        invoice = await self._invoicing.get_invoice(plan.invoice_id)
        code = (
            ProblemCode.AMOUNT_EXCEEDS_DUE
            if state.get("refusal") == "amount_exceeds_due"
            else ProblemCode.INVALID_STATE
        )
        outcome = problem(
            code,
            "The invoice changed while this payment was taken (paid, voided or reduced), "
            "so the charge was refunded in full.",
            "input",
            "invoiceId",
        )
        outcome.objects["payment"] = refreshed
        if invoice is not None:
            outcome.objects["invoice"] = invoice
        refunded = (
            [emission.refund_event(refund)] if refund and refund.status == "succeeded" else []
        )
        return await self._finish(
            lease, state, outcome, also=emission.recorder(refunded, business_id=plan.business_id)
        )

    # -- endings ----------------------------------------------------------------------

    async def _finish(
        self,
        lease: Lease,
        state: dict[str, Any],
        outcome: Outcome,
        *,
        also: Callable[[AsyncConnection], Awaitable[None]] | None = None,
    ) -> Outcome:
        """One transaction: the outcome stored for replays, the invoice unlocked, the
        outbox row done (and `also`, what must happen exactly when the saga ends). Then
        the saga is over."""
        plan = PayPlan.from_json(state["plan"])
        outcome.business_id = plan.business_id
        async with self._store.transaction() as connection:
            await self._store.complete(connection, lease, outcome.to_result())
            await emission.record_all(
                connection,
                emission.of_mutation("payInvoice", outcome.objects, succeeded=not outcome.problems),
                business_id=plan.business_id,
            )
            if also is not None:
                await also(connection)
            await locks.release(connection, plan.invoice_id, lease)
            if "outbox_id" in state:
                await self._outbox.finish(connection, int(state["outbox_id"]))
        return outcome

    def _paused(self, state: dict[str, Any]) -> Outcome:
        if "refusal" in state:
            payment = models.Payment.model_validate(state["payment"])
            return Outcome(
                objects={"payment": payment},
                problems=[
                    UserProblem(
                        ProblemCode.DOWNSTREAM_UNAVAILABLE,
                        "The invoice changed while this payment was taken, so the charge is "
                        "being refunded; the refund is delayed and will complete "
                        "automatically. Retry with the same idempotency key to see it.",
                    )
                ],
            )
        if "payment" in state:
            payment = models.Payment.model_validate(state["payment"])
            return Outcome(
                objects={"payment": payment},
                problems=[
                    UserProblem(
                        ProblemCode.DOWNSTREAM_UNAVAILABLE,
                        "The payment was taken; recording it on the invoice is delayed and "
                        "will complete automatically. Retry with the same idempotency key to "
                        "see the final result.",
                    )
                ],
            )
        return Outcome(
            problems=[UserProblem(ProblemCode.DOWNSTREAM_UNAVAILABLE, UNAVAILABLE_MESSAGE)]
        )

    def _key(self, lease: Lease, step: str) -> str:
        return downstream_key(lease.scope_digest, lease.key, step)
