"""The ownership enforcer: the one place the read side decides whether an object exists
for the caller.

An object exists for a caller only if its business is one of the token's memberships
(app/auth/policy.py declares the rule); otherwise it is answered exactly as a missing
one, never as forbidden, which would confirm that the id exists. An object a downstream
service links to another business than its parent's (an invoice's customer, a payment's
invoice, a payment's refunds) is dropped and logged as a security event: the services
are not trusted to keep businesses apart. The read service runs every object through
here; the schema's `Owned` guard checks again at the field, so that a path that forgot
cannot leak.
"""

from __future__ import annotations

import logging
from typing import TypeVar

from app.auth import policy
from app.auth.principal import Principal
from app.downstream import models

security_log = logging.getLogger("gateway.security")

RecordT = TypeVar("RecordT", bound=models.ContractModel)


class OwnershipEnforcer:
    __slots__ = ("_principal",)

    def __init__(self, principal: Principal) -> None:
        self._principal = principal

    def admits(self, business_id: str) -> bool:
        """Whether objects of this business exist for the caller at all."""
        return policy.admits(self._principal, business_id)

    def may_read_type(self, type_name: str) -> bool:
        """A partner token without a type's read scope does not load such objects."""
        return policy.may_read_type(self._principal, type_name)

    def admitted(self, record: RecordT | None) -> RecordT | None:
        """The record if it exists for the caller, else None (missing or foreign alike)."""
        if record is None:
            return None
        owner = getattr(record, "business_id", None)
        if not isinstance(owner, str) or not policy.admits(self._principal, owner):
            return None
        return record

    def child(self, parent_business: str, record: RecordT | None, edge: str) -> RecordT | None:
        """A record reached from a parent: it must belong to the parent's business."""
        if record is None:
            return None
        if getattr(record, "business_id", None) != parent_business:
            _log_foreign(edge, 1)
            return None
        return self.admitted(record)

    def children(self, parent_business: str, records: list[RecordT], edge: str) -> list[RecordT]:
        """Records reached from a parent, those of another business dropped and logged."""
        kept = [r for r in records if getattr(r, "business_id", None) == parent_business]
        if len(kept) != len(records):
            _log_foreign(edge, len(records) - len(kept))
        return [r for r in kept if self.admitted(r) is not None]


def _log_foreign(edge: str, count: int) -> None:
    security_log.warning(
        "downstream linked an object of another business",
        extra={"event": "downstream_foreign_object", "edge": edge, "dropped": count},
    )
