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

An object that broke the contract (a BrokenObject) is held to the same rule with what
can be read of it: where it was asked for by id, it is reported as broken only if the
business it names is the caller's, and is otherwise "not found"; left out of a list of
the caller's, it is reported at the list, with its id only if it names that list's
business.
"""

from __future__ import annotations

import logging
from typing import TypeVar

from app.auth import policy
from app.auth.principal import Principal
from app.downstream import models
from app.downstream.checked import BrokenObject
from app.downstream.errors import DownstreamInvalidObjectError
from app.reads.levels import Listed

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

    def admitted(self, record: RecordT | BrokenObject | None) -> RecordT | None:
        """The record if it exists for the caller, else None (missing or foreign alike).
        A broken object naming one of the caller's businesses raises
        DownstreamInvalidObjectError; any other is missing (it may be a stranger's)."""
        if record is None:
            return None
        if isinstance(record, BrokenObject):
            owner = record.owner
            if owner is not None and policy.admits(self._principal, owner):
                raise broken_error(record, shown=False)
            return None
        owner = getattr(record, "business_id", None)
        if not isinstance(owner, str) or not policy.admits(self._principal, owner):
            return None
        return record

    def child(
        self, parent_business: str, record: RecordT | BrokenObject | None, edge: str
    ) -> RecordT | None:
        """A record reached from a parent: it must belong to the parent's business. A
        broken one raises DownstreamInvalidObjectError, unless it names another business."""
        if record is None:
            return None
        if isinstance(record, BrokenObject):
            if record.owner not in (None, parent_business):
                _log_foreign(edge, 1)
                return None
            raise broken_error(record, shown=False)
        if getattr(record, "business_id", None) != parent_business:
            _log_foreign(edge, 1)
            return None
        return self.admitted(record)

    def children(
        self, parent_business: str, records: list[RecordT | BrokenObject], edge: str
    ) -> Listed[RecordT]:
        """Records reached from a parent, those of another business dropped and logged;
        one error for each broken one."""
        valid = [r for r in records if not isinstance(r, BrokenObject)]
        kept = [r for r in valid if getattr(r, "business_id", None) == parent_business]
        if len(kept) != len(valid):
            _log_foreign(edge, len(valid) - len(kept))
        return Listed(
            items=[r for r in kept if self.admitted(r) is not None],
            omitted=self.omitted(parent_business, records),
        )

    def omitted(
        self, business_id: str, entries: list[RecordT | BrokenObject] | tuple[BrokenObject, ...]
    ) -> tuple[DownstreamInvalidObjectError, ...]:
        """The errors for the broken objects of a list of `business_id` (one of the
        caller's): each with its id only if it names that business."""
        return tuple(
            broken_error(entry, shown=entry.owner == business_id)
            for entry in entries
            if isinstance(entry, BrokenObject)
        )


def broken_error(broken: BrokenObject, *, shown: bool) -> DownstreamInvalidObjectError:
    return DownstreamInvalidObjectError(
        broken.service, broken.kind, shown_id=broken.well_formed_id if shown else None
    )


def _log_foreign(edge: str, count: int) -> None:
    security_log.warning(
        "downstream linked an object of another business",
        extra={"event": "downstream_foreign_object", "edge": edge, "dropped": count},
    )
