"""Root mutation fields: parse the input, call the mutation service, map the outcome."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import strawberry

from app.mutations import inputs
from app.mutations.outcomes import Outcome, ProblemCode, UserProblem
from app.schema.resolvers.context import Context
from app.schema.types import payloads_of
from app.schema.types.fields import resolved
from app.schema.types.payloads import (
    CreateCustomerInput,
    CreateCustomerPayload,
    CreateInvoiceInput,
    CreateInvoicePayload,
    FinalizeInvoiceInput,
    FinalizeInvoicePayload,
    PayInvoiceInput,
    PayInvoicePayload,
    RefundPaymentInput,
    RefundPaymentPayload,
    VoidInvoiceInput,
    VoidInvoicePayload,
)

Info = strawberry.Info[Context, None]
INPUT = strawberry.argument(description="What to do; see the input type.")


def _invalid(exc: inputs.InvalidInput) -> Outcome:
    return Outcome(
        problems=[UserProblem(ProblemCode.INVALID_INPUT, p.message, p.field) for p in exc.problems]
    )


def _money(value: object | None) -> tuple[str, str] | None:
    if value is None:
        return None
    amount = getattr(value, "amount")  # noqa: B009 - MoneyInput
    currency = getattr(value, "currency")  # noqa: B009 - MoneyInput
    return str(amount), currency.name


async def _run(parse: Callable[[], object], call: Callable[[object], object]) -> Outcome:
    try:
        command = parse()
    except inputs.InvalidInput as exc:
        return _invalid(exc)
    outcome = await call(command)  # type: ignore[misc]
    assert isinstance(outcome, Outcome)  # noqa: S101 - every service method returns one
    return outcome


@strawberry.type(description="Entry points for changing things. Every mutation is idempotent.")
class Mutation:
    @resolved("Add a customer to one of the caller's businesses.")
    async def create_customer(
        self, info: Info, input: Annotated[CreateCustomerInput, INPUT]
    ) -> CreateCustomerPayload:
        outcome = await _run(
            lambda: inputs.parse_create_customer(
                idempotency_key=input.idempotency_key,
                business_id=str(input.business_id),
                name=input.name,
                email=input.email,
                phone=input.phone,
            ),
            info.context.mutations.create_customer,  # type: ignore[arg-type]
        )
        return payloads_of.create_customer(outcome)

    @resolved("Create a draft invoice for a customer.")
    async def create_invoice(
        self, info: Info, input: Annotated[CreateInvoiceInput, INPUT]
    ) -> CreateInvoicePayload:
        outcome = await _run(
            lambda: inputs.parse_create_invoice(
                idempotency_key=input.idempotency_key,
                business_id=str(input.business_id),
                customer_id=str(input.customer_id),
                currency=input.currency.name,
                due_date=input.due_date,
                tax_rate_bps=input.tax_rate_bps,
                lines=[
                    (line.description, line.quantity, str(line.unit_amount)) for line in input.lines
                ],
                today=info.context.reads.today(),
            ),
            info.context.mutations.create_invoice,  # type: ignore[arg-type]
        )
        return payloads_of.create_invoice(outcome)

    @resolved(
        " ".join(
            [
                "Move a draft invoice to open, so it can be paid. Refused with INVALID_STATE,",
                "nothing done, for an invoice that is not a draft and for a draft whose total",
                "is zero: an open invoice of zero could never be paid (a payment is above",
                "zero) and would stay open for good, so it stays a draft; void it instead.",
            ]
        )
    )
    async def finalize_invoice(
        self, info: Info, input: Annotated[FinalizeInvoiceInput, INPUT]
    ) -> FinalizeInvoicePayload:
        outcome = await _run(
            lambda: inputs.parse_finalize_invoice(
                idempotency_key=input.idempotency_key, invoice_id=str(input.invoice_id)
            ),
            info.context.mutations.finalize_invoice,  # type: ignore[arg-type]
        )
        return payloads_of.finalize_invoice(outcome)

    @resolved(
        " ".join(
            [
                "Cancel a draft or open invoice that has no recorded payment. Otherwise",
                "INVALID_STATE, nothing done; the message names the invoice's status.",
            ]
        )
    )
    async def void_invoice(
        self, info: Info, input: Annotated[VoidInvoiceInput, INPUT]
    ) -> VoidInvoicePayload:
        outcome = await _run(
            lambda: inputs.parse_void_invoice(
                idempotency_key=input.idempotency_key, invoice_id=str(input.invoice_id)
            ),
            info.context.mutations.void_invoice,  # type: ignore[arg-type]
        )
        return payloads_of.void_invoice(outcome)

    @resolved("Charge a payment method for an invoice and record the payment on the invoice.")
    async def pay_invoice(
        self, info: Info, input: Annotated[PayInvoiceInput, INPUT]
    ) -> PayInvoicePayload:
        outcome = await _run(
            lambda: inputs.parse_pay_invoice(
                idempotency_key=input.idempotency_key,
                invoice_id=str(input.invoice_id),
                amount=_money(input.amount),
                payment_method=input.payment_method,
            ),
            info.context.mutations.pay_invoice,  # type: ignore[arg-type]
        )
        return payloads_of.pay_invoice(outcome)

    @resolved("Refund all or part of a succeeded payment.")
    async def refund_payment(
        self, info: Info, input: Annotated[RefundPaymentInput, INPUT]
    ) -> RefundPaymentPayload:
        outcome = await _run(
            lambda: inputs.parse_refund_payment(
                idempotency_key=input.idempotency_key,
                payment_id=str(input.payment_id),
                amount=_money(input.amount),
                reason=input.reason.name.lower() if input.reason else None,
            ),
            info.context.mutations.refund_payment,  # type: ignore[arg-type]
        )
        return payloads_of.refund_payment(outcome)
