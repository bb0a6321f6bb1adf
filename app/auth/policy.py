"""Who may see and do what: ownership, roles and partner scopes, declared once.

Everything the gateway shows or changes belongs to exactly one business. A caller sees an
object only if the token names that business in `memberships`; otherwise the object is
treated exactly as one that does not exist. Within a business the caller's role decides
which fields and actions are open (the contracts README's role table), and a partner
token (`scope` claim) is further limited to its scopes.

A refusal for a missing scope is worded in one way wherever it is made (a field, an
object by id, an edge, `node`/`nodes`, a mutation's userError): `scope_refusal` names the
scope, and the schema's errors carry it again in `extensions.requiredScope`. A scope is
a property of the token alone, so it is checked before anything is read: the answer
is the same whether the object exists, is the caller's or is a stranger's, and says
nothing about it. Membership is the one thing never answered as forbidden.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from app.auth.principal import Principal, Role


class Permission(enum.Enum):
    READ = "read"
    # Customers' email and phone, payment method details, the business's VAT number.
    READ_SENSITIVE = "read_sensitive"
    READ_BALANCE = "read_balance"
    # Create customers; create and finalize invoices; take a payment (payInvoice).
    WRITE = "write"
    # Void an invoice; refund a payment.
    VOID_OR_REFUND = "void_or_refund"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.ADMIN: frozenset(Permission),
    Role.ACCOUNTANT: frozenset(
        {Permission.READ, Permission.READ_SENSITIVE, Permission.READ_BALANCE, Permission.WRITE}
    ),
    Role.VIEWER: frozenset({Permission.READ}),
}

# The scope a partner token needs to read objects of each type. A Business is the root
# every path starts from: any member reaches it (its id is in their token), but its own
# details need businesses:read (FIELD_RULES).
TYPE_READ_SCOPES: dict[str, str | None] = {
    "Business": None,
    "Customer": "customers:read",
    "Invoice": "invoices:read",
    "Payment": "payments:read",
    "Refund": "payments:read",
    "Balance": "payments:read",
}


@dataclass(frozen=True, slots=True)
class Rule:
    permission: Permission
    scope: str | None = None


# Fields closed to some roles or scopes; every other field of an object the caller may
# see is open to every role. Keys are (GraphQL type, GraphQL field).
FIELD_RULES: dict[tuple[str, str], Rule] = {
    ("Business", "name"): Rule(Permission.READ, "businesses:read"),
    ("Business", "country"): Rule(Permission.READ, "businesses:read"),
    ("Business", "defaultCurrency"): Rule(Permission.READ, "businesses:read"),
    ("Business", "vatNumber"): Rule(Permission.READ_SENSITIVE, "businesses:read"),
    ("Business", "balance"): Rule(Permission.READ_BALANCE, "payments:read"),
    ("Customer", "email"): Rule(Permission.READ_SENSITIVE),
    ("Customer", "phone"): Rule(Permission.READ_SENSITIVE),
    ("Payment", "paymentMethod"): Rule(Permission.READ_SENSITIVE),
    # Read from the invoice's payments: what payments:read guards.
    ("Invoice", "amountPending"): Rule(Permission.READ, "payments:read"),
}

# What each mutation needs, checked before anything is sent downstream.
MUTATION_RULES: dict[str, Rule] = {
    "createCustomer": Rule(Permission.WRITE, "customers:write"),
    "createInvoice": Rule(Permission.WRITE, "invoices:write"),
    "finalizeInvoice": Rule(Permission.WRITE, "invoices:write"),
    "voidInvoice": Rule(Permission.VOID_OR_REFUND, "invoices:write"),
    "payInvoice": Rule(Permission.WRITE, "payments:write"),
    "refundPayment": Rule(Permission.VOID_OR_REFUND, "payments:write"),
}


class Denial(enum.Enum):
    """Why a check failed. NOT_MEMBER must be answered as 'not found', never 'forbidden'."""

    NOT_MEMBER = "not_member"
    ROLE = "role"
    SCOPE = "scope"


def admits(principal: Principal, business_id: str) -> bool:
    """Whether objects of this business exist for the caller at all."""
    return business_id in principal.memberships


def check(principal: Principal, business_id: str, rule: Rule) -> Denial | None:
    """None when allowed; else why not. Membership first, so that a stranger's object is
    never reported as forbidden (which would confirm it exists)."""
    role = principal.role_in(business_id)
    if role is None:
        return Denial.NOT_MEMBER
    if rule.scope is not None and not principal.has_scope(rule.scope):
        return Denial.SCOPE
    if rule.permission not in ROLE_PERMISSIONS[role]:
        return Denial.ROLE
    return None


def may_read_type(principal: Principal, type_name: str) -> bool:
    """A partner token without the type's read scope may not load such objects at all;
    decided before any downstream call, from the token alone."""
    return missing_read_scope(principal, type_name) is None


def missing_read_scope(principal: Principal, type_name: str) -> str | None:
    """The scope this token lacks to read objects of the type; None when it may."""
    scope = TYPE_READ_SCOPES[type_name]
    if scope is None or principal.has_scope(scope):
        return None
    return scope


def scope_refusal(scope: str) -> str:
    """The one wording of a refusal for a missing scope, for reads and mutations alike."""
    return f"This token lacks the scope {scope}, which this needs."
