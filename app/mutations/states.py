"""Which state each state-dependent mutation needs, checked before anything is sent, and
how a refusal says so: the state the object is in and the states that would allow it
("Only a draft invoice can be finalized; this one is paid.").

The invoicing service refuses a wrong state too (409 invalid_state), but without saying
which state it found: checking here first gives the caller an answer it can act on and
sends nothing. The service's refusal still stands behind this check for a state that
changes between the read and the write (`changed_meanwhile`).

A zero total is refused at finalize (`finalize_refusal`): an open invoice of zero can
never be paid (payInvoice charges only what is due, and a charge must be above zero), so
it would stay open, and count as awaiting payment, forever. Refusing keeps the invoice a
draft the caller can void; the alternative, settling it at once, would need a write the
invoicing contract does not have (marking an invoice paid without a payment).
"""

from __future__ import annotations

import logging
from typing import Final

from app.core.money import format_money
from app.downstream import models
from app.downstream.errors import DownstreamError
from app.downstream.invoicing import InvoicingWrites
from app.mutations.outcomes import Outcome, ProblemCode, problem

logger = logging.getLogger("gateway.mutations")

# The rule each mutation's state check enforces, as its refusals state it.
FINALIZE_RULE: Final = "only a draft invoice with a total above zero can be finalized"
VOID_RULE: Final = "only a draft or open invoice with no recorded payment can be voided"
REFUND_RULE: Final = "only a succeeded payment can be refunded"


def finalize_refusal(invoice: models.Invoice) -> Outcome | None:
    if invoice.status != "draft":
        return _refused(f"Only a draft invoice can be finalized; this one is {invoice.status}.")
    if invoice.total == 0:
        zero = format_money(0, invoice.currency)
        return _refused(
            f"This draft invoice's total is {zero}: finalized, it could never be paid. "
            "Only an invoice with a total above zero can be finalized; void this one and "
            "create it again with the amounts."
        )
    return None


def void_refusal(invoice: models.Invoice) -> Outcome | None:
    if invoice.status not in ("draft", "open"):
        return _refused(
            f"Only a draft or open invoice can be voided; this one is {invoice.status}."
        )
    if invoice.amount_paid > 0 or invoice.payment_ids:
        paid = format_money(invoice.amount_paid, invoice.currency)
        return _refused(
            "Only an invoice with no recorded payment can be voided; this one is "
            f"{invoice.status} with {paid} paid."
        )
    return None


def refund_state_refusal(payment: models.Payment) -> Outcome | None:
    if payment.status != "succeeded":
        return problem(
            ProblemCode.INVALID_STATE,
            f"Only a succeeded payment can be refunded; this one is {payment.status}.",
            "input",
            "paymentId",
        )
    return None


async def refused_as_it_now_is(invoicing: InvoicingWrites, step: str, invoice_id: str) -> Outcome:
    """The service refused the invoice's state although it passed the check: it changed
    in between. Said with the state it is in now when that can be read (the check run
    again), else with the rule alone."""
    check = finalize_refusal if step == "finalize" else void_refusal
    try:
        invoice = await invoicing.get_invoice(invoice_id)
    except DownstreamError as exc:
        logger.warning(
            "could not read the invoice a refusal is about", extra={"detail": exc.detail}
        )
        invoice = None
    current = check(invoice) if invoice is not None else None
    if current is not None:
        return current
    rule = FINALIZE_RULE if step == "finalize" else VOID_RULE
    return _refused(f"The invoice changed meanwhile and no longer allows this: {rule}.")


def _refused(message: str) -> Outcome:
    return problem(ProblemCode.INVALID_STATE, message, "input", "invoiceId")
