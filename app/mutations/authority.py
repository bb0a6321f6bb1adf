"""Whether the caller may do a mutation on a business, as of now: for a first request,
and again for a stored outcome shown later (a replay, `mutationOutcome`). One place, so
that every path asks the same question."""

from __future__ import annotations

from app.auth import policy
from app.auth.principal import Principal
from app.mutations.outcomes import Outcome, ProblemCode, problem

# The input field a refusal of each mutation's authorization names (Authority.authorize).
_AUTHORIZED_AT = {
    "createCustomer": "businessId",
    "createInvoice": "businessId",
    "finalizeInvoice": "invoiceId",
    "voidInvoice": "invoiceId",
    "refundPayment": "paymentId",
    "payInvoice": "invoiceId",
}


class Authority:
    def __init__(self, principal: Principal) -> None:
        self._principal = principal

    def replay_refusal(self, operation: str, replay: Outcome) -> Outcome | None:
        """A stored result is shown only to whom the mutation is allowed as of now: a
        caller who has lost the business since gets exactly what a stranger gets (the
        stored objects answered like missing ones), and one who has lost the role or the
        scope gets the refusal a first request would. The key is kept either way."""
        owners = (
            {replay.business_id}
            if replay.business_id is not None
            else {getattr(obj, "business_id", None) for obj in replay.objects.values()}
        )
        if not owners:
            # Nothing says whose it is: shown to nobody rather than to anybody.
            return problem(ProblemCode.NOT_FOUND, "Not found.")
        for owner in owners:
            refusal = self.refusal_for(operation, owner)
            if refusal is not None:
                return refusal
        return None

    def refusal_for(self, operation: str, owner: str | None) -> Outcome | None:
        if owner is None or not policy.admits(self._principal, owner):
            return problem(ProblemCode.NOT_FOUND, "Not found.")
        return self.authorize(operation, owner)

    def authorize(self, operation: str, business_id: str) -> Outcome | None:
        """The role and scope rule of the mutation, as of now; a refusal names the input
        field that identifies what the mutation acts on."""
        field = _AUTHORIZED_AT[operation]
        rule = policy.MUTATION_RULES[operation]
        denial = policy.check(self._principal, business_id, rule)
        if denial is None:
            return None
        if denial is policy.Denial.NOT_MEMBER:
            return problem(ProblemCode.NOT_FOUND, "Not found.", "input", field)
        if denial is policy.Denial.SCOPE and rule.scope is not None:
            return problem(ProblemCode.FORBIDDEN, policy.scope_refusal(rule.scope), "input", field)
        return problem(
            ProblemCode.FORBIDDEN,
            "Your role or token scope does not allow this action.",
            "input",
            field,
        )
