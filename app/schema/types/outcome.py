"""`mutationOutcome`'s types: where a mutation sent with a key stands (mutations/progress)."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from app.mutations import progress
from app.schema.types.payloads_of import MutationPayload


@strawberry.enum(description="A mutation, as mutationOutcome names it.")
class MutationName(enum.Enum):
    CREATE_CUSTOMER = strawberry.enum_value("createCustomer", description="createCustomer.")
    CREATE_INVOICE = strawberry.enum_value("createInvoice", description="createInvoice.")
    FINALIZE_INVOICE = strawberry.enum_value("finalizeInvoice", description="finalizeInvoice.")
    VOID_INVOICE = strawberry.enum_value("voidInvoice", description="voidInvoice.")
    PAY_INVOICE = strawberry.enum_value("payInvoice", description="payInvoice.")
    REFUND_PAYMENT = strawberry.enum_value("refundPayment", description="refundPayment.")


# The operation each name stands for (app/idempotency/keys.py's KeyScope.operation).
OPERATION_OF = {
    MutationName.CREATE_CUSTOMER: "createCustomer",
    MutationName.CREATE_INVOICE: "createInvoice",
    MutationName.FINALIZE_INVOICE: "finalizeInvoice",
    MutationName.VOID_INVOICE: "voidInvoice",
    MutationName.PAY_INVOICE: "payInvoice",
    MutationName.REFUND_PAYMENT: "refundPayment",
}


@strawberry.enum(description="Where a mutation sent with an idempotency key stands.")
class MutationStatus(enum.Enum):
    IN_PROGRESS = strawberry.enum_value(
        "in_progress", description="A request (or the gateway's relay) is working on it now."
    )
    PAUSED = strawberry.enum_value(
        "paused",
        description=" ".join(
            [
                "Not finished and nobody is working on it: a step's outcome was unknown.",
                "Send the same mutation with the same key to resume it (payInvoice is also",
                "resumed by the gateway).",
            ]
        ),
    )
    WAITING_FOR_SETTLEMENT = strawberry.enum_value(
        "waiting_for_settlement",
        description="payInvoice took a payment that is still pending (a bank transfer).",
    )
    COMPLETED = strawberry.enum_value(
        "completed", description="Finished: `result` is the answer, refusals included."
    )
    COMPENSATED = strawberry.enum_value(
        "compensated",
        description="payInvoice charged, the invoice refused it, and the charge was refunded.",
    )


@strawberry.enum(description="The step a mutation in progress or paused is at.")
class MutationStep(enum.Enum):
    STARTED = strawberry.enum_value("claimed", description="Accepted; nothing sent yet.")
    SENDING = strawberry.enum_value("sending", description="Its one write is being sent.")
    LOCKED = strawberry.enum_value(
        "locked", description="payInvoice holds the invoice's lock; nothing charged yet."
    )
    CHARGING = strawberry.enum_value(
        "charging", description="payInvoice is charging (the charge may or may not be taken)."
    )
    RECORDING = strawberry.enum_value(
        "charged", description="payInvoice charged and is recording the payment on the invoice."
    )
    COMPENSATING = strawberry.enum_value(
        "compensating", description="payInvoice is refunding a charge the invoice refused."
    )


@strawberry.enum(description="How a payment payInvoice left pending ended.")
class SettlementStatus(enum.Enum):
    PENDING = strawberry.enum_value("pending", description="Not settled yet.")
    SUCCEEDED = strawberry.enum_value(
        "recorded", description="Settled and recorded on the invoice."
    )
    FAILED = strawberry.enum_value(
        "failed", description="Failed at the bank; the invoice may be paid again."
    )
    REFUNDED = strawberry.enum_value(
        "refunded",
        description="Settled, but the invoice could no longer take it: refunded in full.",
    )


@strawberry.type(description="Where a mutation sent with an idempotency key stands.")
class MutationOutcome:
    mutation: MutationName = strawberry.field(description="The mutation asked about.")
    idempotency_key: str = strawberry.field(description="The key asked about.")
    status: MutationStatus = strawberry.field(description="Where it stands.")
    step: MutationStep | None = strawberry.field(
        description="The step it is at, while IN_PROGRESS or PAUSED."
    )
    settlement: SettlementStatus | None = strawberry.field(
        description="For a payInvoice that left a payment pending: how that payment ended."
    )
    started_at: datetime = strawberry.field(description="When the key was first sent.")
    updated_at: datetime = strawberry.field(description="When it last moved.")
    result: MutationPayload | None = strawberry.field(
        description=" ".join(
            [
                "The mutation's answer, as a replay of it would be now (replayed: true), once",
                "there is one; null while IN_PROGRESS or PAUSED.",
            ]
        )
    )


def outcome_type(
    name: MutationName, key: str, found: progress.Progress, result: object | None
) -> MutationOutcome:
    return MutationOutcome(
        mutation=name,
        idempotency_key=key,
        status=MutationStatus(found.status.value),
        step=MutationStep(found.step.value) if found.step else None,
        settlement=SettlementStatus(found.settlement.value) if found.settlement else None,
        started_at=found.started_at,
        updated_at=found.updated_at,
        result=result,  # type: ignore[arg-type]
    )
