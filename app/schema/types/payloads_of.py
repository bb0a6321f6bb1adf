"""A mutation's outcome as its payload type: one mapping, used by the mutations and by
`mutationOutcome` (a stored outcome read back later), so both answer alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar, Union

import strawberry

from app.downstream import models
from app.mutations.outcomes import Outcome, UserProblem
from app.schema.types.payloads import (
    CreateCustomerPayload,
    CreateInvoicePayload,
    FinalizeInvoicePayload,
    PayInvoicePayload,
    RefundPaymentPayload,
    UserError,
    UserErrorCode,
    VoidInvoicePayload,
)

RecordT = TypeVar("RecordT", bound=models.ContractModel)

MutationPayload = Annotated[
    Union[  # noqa: UP007 - strawberry.union needs the Union form
        CreateCustomerPayload,
        CreateInvoicePayload,
        FinalizeInvoicePayload,
        VoidInvoicePayload,
        PayInvoicePayload,
        RefundPaymentPayload,
    ],
    strawberry.union(
        "MutationPayload", description="The payload a mutation answered, or would answer now."
    ),
]


def user_errors(problems: list[UserProblem]) -> list[UserError]:
    return [
        UserError(
            code=UserErrorCode[p.code.name],
            message=p.message,
            field=list(p.field) if p.field else None,
        )
        for p in problems
    ]


def record(outcome: Outcome, name: str, model: type[RecordT]) -> RecordT | None:
    found = outcome.objects.get(name)
    return found if isinstance(found, model) else None


def create_customer(outcome: Outcome) -> CreateCustomerPayload:
    return CreateCustomerPayload(
        record=record(outcome, "customer", models.Customer),
        user_errors=user_errors(outcome.problems),
        replayed=outcome.replayed,
    )


def create_invoice(outcome: Outcome) -> CreateInvoicePayload:
    return CreateInvoicePayload(
        record=record(outcome, "invoice", models.Invoice),
        user_errors=user_errors(outcome.problems),
        replayed=outcome.replayed,
    )


def finalize_invoice(outcome: Outcome) -> FinalizeInvoicePayload:
    return FinalizeInvoicePayload(
        record=record(outcome, "invoice", models.Invoice),
        user_errors=user_errors(outcome.problems),
        replayed=outcome.replayed,
    )


def void_invoice(outcome: Outcome) -> VoidInvoicePayload:
    return VoidInvoicePayload(
        record=record(outcome, "invoice", models.Invoice),
        user_errors=user_errors(outcome.problems),
        replayed=outcome.replayed,
    )


def pay_invoice(outcome: Outcome) -> PayInvoicePayload:
    return PayInvoicePayload(
        payment_record=record(outcome, "payment", models.Payment),
        invoice_record=record(outcome, "invoice", models.Invoice),
        user_errors=user_errors(outcome.problems),
        replayed=outcome.replayed,
    )


def refund_payment(outcome: Outcome) -> RefundPaymentPayload:
    return RefundPaymentPayload(
        refund_record=record(outcome, "refund", models.Refund),
        payment_record=record(outcome, "payment", models.Payment),
        user_errors=user_errors(outcome.problems),
        replayed=outcome.replayed,
    )


PAYLOAD_OF: dict[str, Callable[[Outcome], object]] = {
    "createCustomer": create_customer,
    "createInvoice": create_invoice,
    "finalizeInvoice": finalize_invoice,
    "voidInvoice": void_invoice,
    "payInvoice": pay_invoice,
    "refundPayment": refund_payment,
}
