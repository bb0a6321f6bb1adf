"""What payInvoice refuses before it charges, how it words a payment already on its way,
and what it checks of a charge's answer before acting on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.core.money import format_money
from app.downstream import models
from app.downstream.errors import DownstreamInvalidResponseError
from app.mutations.outcomes import Outcome, ProblemCode, problem

if TYPE_CHECKING:
    from app.mutations.pay_invoice import PayPlan


def refusal_of(invoice: models.Invoice, plan: PayPlan) -> Outcome | None:
    if invoice.status != "open":
        return problem(
            ProblemCode.INVALID_STATE,
            f"Only an open invoice can be paid; this one is {invoice.status}.",
            "input",
            "invoiceId",
        )
    if plan.currency is not None and plan.currency != invoice.currency:
        return problem(
            ProblemCode.CURRENCY_MISMATCH,
            f"The invoice is in {invoice.currency}.",
            "input",
            "amount",
            "currency",
        )
    if invoice.amount_due <= 0:
        return problem(
            ProblemCode.INVALID_STATE, "Nothing is due on this invoice.", "input", "invoiceId"
        )
    if plan.amount_minor is not None and plan.amount_minor > invoice.amount_due:
        return problem(
            ProblemCode.AMOUNT_EXCEEDS_DUE,
            "The amount is more than the invoice's amount due.",
            "input",
            "amount",
            "amount",
        )
    return None


def pending_refusal(invoice: models.Invoice, held: int, room: int, plan: PayPlan) -> Outcome:
    currency = invoice.currency
    message = (
        f"{format_money(held, currency)} of this invoice is already on its way (paid but not "
        "yet settled or recorded). "
        + (
            f"At most {format_money(room, currency)} can be charged now."
            if room > 0
            else "Nothing more can be charged until it settles or fails."
        )
    )
    at = ("input", "amount", "amount") if plan.amount_minor is not None else ("input", "invoiceId")
    return problem(ProblemCode.PAYMENT_PENDING, message, *at)


def with_invoice(
    state: dict[str, Any], payment: models.Payment | None = None
) -> dict[str, models.ContractModel]:
    """The payment, and the invoice as it stands: a charge that did not succeed changed
    nothing on it since it was read under the lock."""
    objects: dict[str, models.ContractModel] = {"payment": payment} if payment else {}
    if "invoice" in state:
        objects["invoice"] = models.Invoice.model_validate(state["invoice"])
    return objects


def check_charge(payment: models.Payment, body: dict[str, Any]) -> None:
    """A charge answer for another invoice, amount or currency is a lying service: stop
    before recording anything on the strength of it."""
    if (
        payment.invoice_id != body["invoice_id"]
        or payment.business_id != body["business_id"]
        or payment.amount != body["amount"]
        or payment.currency != body["currency"]
    ):
        raise DownstreamInvalidResponseError("payments", "charge answer does not match the charge")
