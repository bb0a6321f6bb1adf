"""The partner-scope table: every way to reach an object or a guarded field, what each
needs, and the whole answer with or without it (used by test_partner_scopes.py and
test_roles_and_scopes.py). Written down from the contracts README and the seed, not read
back from app/auth/policy.py.

A missing scope is refused in one shape everywhere: FORBIDDEN at the field that needed
it, the scope named in the message and in `extensions.requiredScope`, exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.seed import (
    BUSINESSES,
    GB_BUSINESS_ID,
    GB_CUSTOMER_ID,
    GB_OPEN_INVOICE_ID,
    IN_CUSTOMER_ID,
    IN_OPEN_INVOICE_ID,
    INVOICES,
    PAYMENTS,
    REFUNDS,
)
from tests.e2e.matrix_helpers import JSON, at, not_found

GB = next(b for b in BUSINESSES if b.id == GB_BUSINESS_ID)
OPEN_INVOICE = next(i for i in INVOICES if i.id == GB_OPEN_INVOICE_ID)
# A GB payment with refunds, and one of its refunds; the same of the IN business.
REFUNDED = next(p for p in PAYMENTS if p.business_id == GB.id and p.amount_refunded > 0)
REFUND = next(r for r in REFUNDS if r.payment_id == REFUNDED.id)
IN_PAYMENT = next(p for p in PAYMENTS if p.business_id != GB.id)
IN_REFUND = next(r for r in REFUNDS if r.business_id != GB.id)

READS = ["businesses:read", "customers:read", "invoices:read", "payments:read"]
WRITES = ["customers:write", "invoices:write", "payments:write"]
# None: a first-party token (no scope claim).
SCOPE_SETS: list[list[str] | None] = [None, [], *([s] for s in READS), READS, WRITES]

# What must not be asked downstream when a scope is missing.
UNFETCHED = {
    "businesses:read": (),
    "customers:read": ("/v1/customers",),
    "invoices:read": ("/v1/invoices",),
    "payments:read": ("/v1/payments", "/v1/refunds", "/v1/balances"),
}


def refused(scope: str, path: list[str | int], location: dict[str, int]) -> JSON:
    """The one shape of a refusal for a missing scope."""
    return {
        "message": f"This token lacks the scope {scope}, which this needs.",
        "locations": [location],
        "path": path,
        "extensions": {"code": "FORBIDDEN", "requiredScope": scope},
    }


@dataclass(frozen=True)
class Step:
    """A scope the read needs, where it is refused without it, and the data then."""

    scope: str
    path: list[str | int]
    needle: str
    data: JSON


@dataclass(frozen=True)
class Probe:
    name: str
    document: str
    # Outermost first: the first one missing is the refusal.
    steps: tuple[Step, ...]
    # The whole answer with every scope held.
    allowed: JSON

    def expected(self, scopes: list[str] | None) -> tuple[JSON, tuple[str, ...]]:
        """The whole answer for these scopes, and the paths that must not be fetched."""
        for step in self.steps:
            if scopes is not None and step.scope not in scopes:
                error = refused(step.scope, step.path, at(self.document, step.needle))
                return {"data": step.data, "errors": [error]}, UNFETCHED[step.scope]
        return self.allowed, ()

    def __str__(self) -> str:
        return self.name


def _root(root: str, object_id: str, selection: str = "") -> str:
    return f'{{ {root}(id: "{object_id}") {{ id {selection} }} }}'


def _by_id(root: str, scope: str, object_id: str, *, mine: bool) -> Probe:
    document = _root(root, object_id)
    allowed: JSON = (
        {"data": {root: {"id": object_id}}}
        if mine
        else {"data": {root: None}, "errors": [not_found([root], at(document, f"{root}("))]}
    )
    step = Step(scope, [root], f"{root}(", {root: None})
    return Probe(f"{root}({object_id})", document, (step,), allowed)


def _business_field(field: str, selection: str, scope: str, value: object, data: JSON) -> Probe:
    document = _root("business", GB.id, selection)
    step = Step(scope, ["business", field], field, data)
    return Probe(f"Business.{field}", document, (step,), {"data": {"business": value}})


def _edge(
    name: str,
    root: str,
    root_id: str,
    root_scope: str,
    edge: str,
    selection: str,
    scope: str,
    value: object,
) -> Probe:
    """A non-null edge to another type: refused there, it nulls its parent."""
    document = _root(root, root_id, selection)
    steps = (
        Step(root_scope, [root], f"{root}(", {root: None}),
        Step(scope, [root, edge], edge, {root: None}),
    )
    return Probe(name, document, steps, {"data": {root: {"id": root_id, edge: value}}})


_PAGE = "(first: 1) { __typename }"
_PENDING = _root("invoice", OPEN_INVOICE.id, "amountPending { currency }")
_OPEN_PAYMENTS = sorted(
    (p for p in PAYMENTS if p.invoice_id == OPEN_INVOICE.id), key=lambda p: (p.created_at, p.id)
)
_REFUNDS = sorted(
    (r for r in REFUNDS if r.payment_id == REFUNDED.id), key=lambda r: (r.created_at, r.id)
)

PROBES = [
    # fields with a rule of their own
    _business_field("name", "name", "businesses:read", {"id": GB.id, "name": GB.name},
                    {"business": None}),
    _business_field("vatNumber", "vatNumber", "businesses:read",
                    {"id": GB.id, "vatNumber": GB.vat_number},
                    {"business": {"id": GB.id, "vatNumber": None}}),
    _business_field("balance", "balance { __typename }", "payments:read",
                    {"id": GB.id, "balance": {"__typename": "Balance"}},
                    {"business": {"id": GB.id, "balance": None}}),
    Probe("Invoice.amountPending", _PENDING,
          (Step("invoices:read", ["invoice"], "invoice(", {"invoice": None}),
           Step("payments:read", ["invoice", "amountPending"], "amountPending",
                {"invoice": {"id": OPEN_INVOICE.id, "amountPending": None}})),
          {"data": {"invoice": {"id": OPEN_INVOICE.id,
                                "amountPending": {"currency": OPEN_INVOICE.currency}}}}),
    # objects by id: the caller's, and a stranger's (NOT_FOUND only with the scope)
    _by_id("customer", "customers:read", GB_CUSTOMER_ID, mine=True),
    _by_id("customer", "customers:read", IN_CUSTOMER_ID, mine=False),
    _by_id("invoice", "invoices:read", OPEN_INVOICE.id, mine=True),
    _by_id("invoice", "invoices:read", IN_OPEN_INVOICE_ID, mine=False),
    _by_id("payment", "payments:read", REFUNDED.id, mine=True),
    _by_id("payment", "payments:read", IN_PAYMENT.id, mine=False),
    # node: the caller's, a stranger's and nobody's id of each type
    _by_id("node", "customers:read", GB_CUSTOMER_ID, mine=True),
    _by_id("node", "customers:read", IN_CUSTOMER_ID, mine=False),
    _by_id("node", "customers:read", "cus_doesnotexist", mine=False),
    _by_id("node", "invoices:read", OPEN_INVOICE.id, mine=True),
    _by_id("node", "invoices:read", IN_OPEN_INVOICE_ID, mine=False),
    _by_id("node", "invoices:read", "inv_doesnotexist", mine=False),
    _by_id("node", "payments:read", REFUNDED.id, mine=True),
    _by_id("node", "payments:read", IN_PAYMENT.id, mine=False),
    _by_id("node", "payments:read", "pay_doesnotexist", mine=False),
    _by_id("node", "payments:read", REFUND.id, mine=True),
    _by_id("node", "payments:read", IN_REFUND.id, mine=False),
    _by_id("node", "payments:read", "re_doesnotexist", mine=False),
    # pages of a business
    *(
        Probe(f"Business.{edge}", _root("business", GB.id, f"{edge}{_PAGE}"),
              (Step(scope, ["business", edge], edge, {"business": None}),),
              {"data": {"business": {"id": GB.id,
                                     edge: {"__typename": f"{kind}Connection"}}}})
        for edge, kind, scope in [("customers", "Customer", "customers:read"),
                                  ("invoices", "Invoice", "invoices:read"),
                                  ("payments", "Payment", "payments:read")]
    ),
    # nested edges from one type to another
    _edge("Invoice.customer", "invoice", OPEN_INVOICE.id, "invoices:read", "customer",
          "customer { id }", "customers:read", {"id": OPEN_INVOICE.customer_id}),
    _edge("Invoice.payments", "invoice", OPEN_INVOICE.id, "invoices:read", "payments",
          "payments { id }", "payments:read", [{"id": p.id} for p in _OPEN_PAYMENTS]),
    _edge("Payment.invoice", "payment", REFUNDED.id, "payments:read", "invoice",
          "invoice { id }", "invoices:read", {"id": REFUNDED.invoice_id}),
    _edge("Customer.invoices", "customer", GB_CUSTOMER_ID, "customers:read", "invoices",
          f"invoices{_PAGE}", "invoices:read", {"__typename": "InvoiceConnection"}),
    _edge("Payment.refunds", "payment", REFUNDED.id, "payments:read", "refunds",
          "refunds { id }", "payments:read", [{"id": r.id} for r in _REFUNDS]),
]  # fmt: skip
