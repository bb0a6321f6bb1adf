"""Who is calling: the verified identity carried through one request."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Role(enum.StrEnum):
    """A member's role in one business, as the token's `memberships` claim spells it."""

    OWNER = "owner"
    ADMIN = "admin"
    ACCOUNTANT = "accountant"
    VIEWER = "viewer"


# The partner scopes of the contracts README. A token without a `scope` claim is a
# first-party token (web, mobile) and is limited by its memberships only.
KNOWN_SCOPES: frozenset[str] = frozenset(
    {
        "businesses:read",
        "customers:read",
        "customers:write",
        "invoices:read",
        "invoices:write",
        "payments:read",
        "payments:write",
    }
)


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified end user.

    `memberships` maps business id to role; a business absent from it does not exist for
    this user. `scopes` is None for first-party tokens, else the partner token's scopes.
    """

    issuer: str
    subject: str
    memberships: Mapping[str, Role] = field(default_factory=dict)
    scopes: frozenset[str] | None = None

    def role_in(self, business_id: str) -> Role | None:
        return self.memberships.get(business_id)

    def has_scope(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes
