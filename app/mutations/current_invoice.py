"""payInvoice's payload carries the invoice as it now stands whenever the outcome is
known: paid, pending, declined, refused for the invoice's state or amounts, another
payment in progress, and on a replay. A dashboard shows the invoice next to the answer;
without it the screen stays on a stale copy or costs another query.

Where it comes from:
- the outcome already has it, read or written during this request (the saga's check
  under the payment lock, the recording's answer, the re-read after a refund): kept;
- otherwise nothing changed it since this request first read it (a refusal before the
  charge, another payment in progress): that read;
- a replay (an earlier request's stored result, perhaps days old: a bank transfer may
  have settled since) is read again, uncached, in place of the stored copy. If it cannot
  be read now, the replay shows none: a stored copy beside what the invoice's fields
  read live (amountPending, from the payments) would tell a wrong story, e.g. a payment
  recorded since shown as money on its way.

Null, by rule:
- the request ran nothing: a malformed input, a key reused with other input, a key in
  use or taken over by another request (an answer about the request, and a key reuse
  must cost no downstream call);
- the caller is refused (NOT_FOUND, FORBIDDEN): that says nothing of the invoice;
- the outcome is not known yet (DOWNSTREAM_UNAVAILABLE, DOWNSTREAM_INVALID_RESPONSE): a
  charge may be on its way, and the request's time budget may be spent, so what the
  invoice's fields need would fail too. A retry with the same key gives the outcome and
  the invoice.
A token that may not read invoices (app/auth/policy.py, TYPE_READ_SCOPES) makes no read
for a replay; what a caller may see of an attached invoice is decided at the payload's
field, as for every object (Owned).
"""

from __future__ import annotations

import logging

from app.auth import policy
from app.auth.principal import Principal
from app.core.ids import is_object_id
from app.downstream import models
from app.downstream.errors import DownstreamError
from app.downstream.invoicing import InvoicingWrites
from app.mutations.outcomes import Outcome, ProblemCode

logger = logging.getLogger("gateway.mutations")

_NOT_SHOWN = frozenset(
    {
        ProblemCode.NOT_FOUND,
        ProblemCode.FORBIDDEN,
        ProblemCode.DOWNSTREAM_UNAVAILABLE,
        ProblemCode.DOWNSTREAM_INVALID_RESPONSE,
        ProblemCode.IDEMPOTENCY_KEY_IN_USE,
        ProblemCode.IDEMPOTENCY_KEY_REUSED,
    }
)


class CurrentInvoice:
    def __init__(self, principal: Principal, invoicing: InvoicingWrites) -> None:
        self._principal = principal
        self._invoicing = invoicing

    def attach(self, outcome: Outcome, read: models.Invoice | None) -> Outcome:
        """The outcome of this request, with `read` (the invoice as this request first
        read it) when it has no later copy."""
        if read is not None and "invoice" not in outcome.objects and _shown(outcome):
            outcome.objects["invoice"] = read
        return outcome

    async def refreshed(self, replay: Outcome, invoice_id: str) -> Outcome:
        """A replay, with the invoice read again now in place of the stored copy (none
        when it cannot be read now)."""
        if (
            not _shown(replay)
            or not is_object_id(invoice_id, "inv_")
            or not policy.may_read_type(self._principal, "Invoice")
        ):
            return replay
        replay.objects.pop("invoice", None)
        try:
            invoice = await self._invoicing.get_invoice(invoice_id)
        except DownstreamError as exc:
            logger.warning(
                "payInvoice replayed without the invoice: it could not be read again",
                extra={"detail": exc.detail},
            )
            return replay
        if invoice is not None and policy.admits(self._principal, invoice.business_id):
            replay.objects["invoice"] = invoice
        return replay


def _shown(outcome: Outcome) -> bool:
    return not {p.code for p in outcome.problems} & _NOT_SHOWN
