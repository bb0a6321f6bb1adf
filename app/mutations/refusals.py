"""How the write side words a refusal: a downstream service's definitive answer in the
caller's terms, a refund that cannot be taken, a key another request took over, and what
a token that may not read the object is told of it (`shown_to`). Each is an Outcome at
the input field it is about."""

from __future__ import annotations

import dataclasses
import logging

from app.auth import policy
from app.auth.principal import Principal
from app.downstream import models
from app.downstream.errors import DownstreamRejectedError
from app.mutations import inputs
from app.mutations.outcomes import Outcome, ProblemCode, UserProblem, problem
from app.mutations.states import REFUND_RULE, refund_state_refusal

logger = logging.getLogger("gateway.mutations")

BUSY_MESSAGE = "Another payment for this invoice is in progress; retry shortly."

# Downstream 409 codes that are the caller's business outcome, stored and replayed.
_BUSINESS_CODES = {
    "invalid_state": ProblemCode.INVALID_STATE,
    "amount_exceeds_due": ProblemCode.AMOUNT_EXCEEDS_DUE,
    "amount_exceeds_refundable": ProblemCode.AMOUNT_EXCEEDS_REFUNDABLE,
    "currency_mismatch": ProblemCode.CURRENCY_MISMATCH,
}


def key_reused() -> Outcome:
    return problem(
        ProblemCode.IDEMPOTENCY_KEY_REUSED,
        "This idempotency key was already used with different input.",
        "input",
        "idempotencyKey",
    )


def taken_over() -> Outcome:
    """This request stalled past its lease and another (a retry or the relay) took the
    key over: that one finishes the work, with the same downstream keys."""
    return problem(
        ProblemCode.IDEMPOTENCY_KEY_IN_USE,
        "Another request with this idempotency key took over; retry shortly with the same key.",
        "input",
        "idempotencyKey",
    )


def rejection(exc: DownstreamRejectedError, id_field: str) -> Outcome | None:
    """A definitive refusal in the caller's terms, at the input naming the object it is
    about; None for what is not definitive."""
    if exc.code == "invalid_state" and id_field == "paymentId":
        # Passed refund_refusal's check, so the payment changed in between.
        message = f"The payment changed meanwhile and no longer allows this: {REFUND_RULE}."
        return problem(ProblemCode.INVALID_STATE, message, "input", id_field)
    if exc.code in _BUSINESS_CODES:
        return problem(_BUSINESS_CODES[exc.code], _MESSAGES[exc.code], "input", id_field)
    if exc.status == 404 or exc.code == "customer_business_mismatch":
        return problem(ProblemCode.NOT_FOUND, "Not found.", "input", id_field)
    if exc.status == 400 and exc.code == "invalid_request":
        return problem(ProblemCode.INVALID_INPUT, "The request was refused as invalid.", "input")
    if exc.code == "idempotency_key_reused":
        return downstream_key_reused()
    # idempotency_key_in_use is retryable.
    return None


def downstream_key_reused() -> Outcome:
    """A downstream key derived from the caller's key met another body: the service did
    nothing. A step's body is fixed before it is first sent (it is in the key's state),
    so the other body is the same client key's use for another subject, claimed in
    another region's database (app/residency/: the two claims cannot see each other
    while that region is down, or when both arrive at once). Definitive: stored and
    replayed as the reuse it is, so nothing stays paused (a payInvoice would otherwise
    hold its invoice's payment lock for ever)."""
    logger.warning("downstream key met another body: key reused across regions")
    return key_reused()


_MESSAGES = {
    "invalid_state": "The object is not in a state that allows this.",
    "amount_exceeds_due": "The amount is more than the invoice's amount due.",
    "amount_exceeds_refundable": "The amount is more than what is left to refund.",
    "currency_mismatch": "The currency does not match.",
}


def refund_refusal(payment: models.Payment, amount: inputs.Money | None) -> Outcome | None:
    refusal = refund_state_refusal(payment)
    if refusal is not None:
        return refusal
    refundable = payment.amount - payment.amount_refunded
    if refundable <= 0:
        return problem(
            ProblemCode.AMOUNT_EXCEEDS_REFUNDABLE,
            "This payment is refunded in full.",
            "input",
            "paymentId",
        )
    if amount is not None and amount.currency != payment.currency:
        return problem(
            ProblemCode.CURRENCY_MISMATCH,
            f"The payment is in {payment.currency}.",
            "input",
            "amount",
            "currency",
        )
    if amount is not None and amount.minor > refundable:
        return problem(
            ProblemCode.AMOUNT_EXCEEDS_REFUNDABLE,
            "The amount is more than what is left to refund.",
            "input",
            "amount",
            "amount",
        )
    return None


# What a refusal may say to a caller whose token may not read the object it is about
# (a partner token with the write scope but not the read one): the code, but none of the
# object's status, currency or amounts that the full message names. Per mutation: the
# type the caller must be able to read, and the wording of each code that needs one.
_UNREADABLE: dict[str, tuple[str, dict[ProblemCode, str]]] = {
    "payInvoice": (
        "Invoice",
        {
            ProblemCode.INVALID_STATE: "The invoice cannot be paid in its current state.",
            ProblemCode.CURRENCY_MISMATCH: "The currency is not the invoice's.",
            ProblemCode.PAYMENT_PENDING: "Money for this invoice is already on its way; "
            "less or nothing can be charged until it settles or fails.",
        },
    ),
    "finalizeInvoice": (
        "Invoice",
        {ProblemCode.INVALID_STATE: "The invoice cannot be finalized in its current state."},
    ),
    "voidInvoice": (
        "Invoice",
        {ProblemCode.INVALID_STATE: "The invoice cannot be voided in its current state."},
    ),
    "refundPayment": (
        "Payment",
        {
            ProblemCode.INVALID_STATE: "The payment cannot be refunded in its current state.",
            ProblemCode.CURRENCY_MISMATCH: "The currency is not the payment's.",
            ProblemCode.AMOUNT_EXCEEDS_REFUNDABLE: "The amount is more than what is left "
            "to refund.",
        },
    ),
}


def shown_to(principal: Principal, operation: str, outcome: Outcome) -> Outcome:
    """What a caller is told of `operation`'s outcome: everything, unless its token may
    not read the object the mutation acts on; then no detail of that object (status,
    currency, amounts) from why it was refused, stored results included."""
    entry = _UNREADABLE.get(operation)
    if entry is None or policy.may_read_type(principal, entry[0]):
        return outcome
    messages = entry[1]
    problems = [
        UserProblem(p.code, messages[p.code], p.field) if p.code in messages else p
        for p in outcome.problems
    ]
    return dataclasses.replace(outcome, problems=problems)
