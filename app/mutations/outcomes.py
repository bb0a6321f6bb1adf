"""What a mutation answers, in a form the idempotency store keeps and replays: the
downstream objects themselves (not a rendering), so a retry that selects other fields
still gets the same payment."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from app.downstream import models

_MODELS: dict[str, type[models.ContractModel]] = {
    "customer": models.Customer,
    "invoice": models.Invoice,
    "payment": models.Payment,
    "refund": models.Refund,
}


class ProblemCode(enum.Enum):
    """Why a mutation did not do what was asked, as the caller is told (the schema's
    UserErrorCode mirrors these one for one; tests/mutations/test_outcomes.py checks)."""

    INVALID_INPUT = "INVALID_INPUT"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    INVALID_STATE = "INVALID_STATE"
    AMOUNT_EXCEEDS_DUE = "AMOUNT_EXCEEDS_DUE"
    AMOUNT_EXCEEDS_REFUNDABLE = "AMOUNT_EXCEEDS_REFUNDABLE"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    PAYMENT_IN_PROGRESS = "PAYMENT_IN_PROGRESS"
    PAYMENT_PENDING = "PAYMENT_PENDING"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    IDEMPOTENCY_KEY_IN_USE = "IDEMPOTENCY_KEY_IN_USE"
    DOWNSTREAM_UNAVAILABLE = "DOWNSTREAM_UNAVAILABLE"
    DOWNSTREAM_INVALID_RESPONSE = "DOWNSTREAM_INVALID_RESPONSE"


@dataclass(frozen=True, slots=True)
class UserProblem:
    code: ProblemCode
    message: str
    field: tuple[str, ...] | None = None


@dataclass(slots=True)
class Outcome:
    objects: dict[str, models.ContractModel] = field(default_factory=dict)
    problems: list[UserProblem] = field(default_factory=list)
    replayed: bool = False
    # The business the mutation acted in, kept with the stored result so that a replay
    # is authorized again, as of now, like a first request (objects may be absent).
    business_id: str | None = None

    def to_result(self) -> dict[str, Any]:
        return {
            "businessId": self.business_id,
            "objects": {name: obj.model_dump(mode="json") for name, obj in self.objects.items()},
            "userErrors": [
                {
                    "code": p.code.value,
                    "message": p.message,
                    "field": list(p.field) if p.field else None,
                }
                for p in self.problems
            ],
        }

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> Outcome:
        return cls(
            objects={
                name: _MODELS[name].model_validate(data)
                for name, data in result.get("objects", {}).items()
            },
            problems=[
                UserProblem(
                    ProblemCode(p["code"]), p["message"], tuple(p["field"]) if p["field"] else None
                )
                for p in result.get("userErrors", [])
            ],
            replayed=True,
            business_id=result.get("businessId"),
        )


def problem(code: ProblemCode, message: str, *field: str) -> Outcome:
    return Outcome(problems=[UserProblem(code, message, tuple(field) or None)])


UNAVAILABLE_MESSAGE = (
    "A service needed for this is unavailable; nothing is lost. Retry with the same "
    "idempotency key."
)
