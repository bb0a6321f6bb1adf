"""The role and scope matrix: what each role and each partner scope may read.

The expected permissions are written down here from the contracts README ("What each
role may do", the `scope` claim), not read back from app/auth/policy.py, so a drift of the
policy from the contract fails here.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.auth import policy
from app.auth.principal import Role
from sandbox.seed import (
    BUSINESSES,
    CUSTOMERS,
    GB_BUSINESS_ID,
    GB_CUSTOMER_ID,
    GB_OPEN_INVOICE_ID,
    IN_BUSINESS_ID,
    PARTIAL_REFUND_ID,
    PAYMENTS,
    PENDING_PAYMENT_ID,
    SUCCEEDED_PAYMENT_ID,
)
from tests.e2e.conftest import Downstreams, TokenFactory
from tests.e2e.matrix_helpers import (
    FIELD_FORBIDDEN_MESSAGE,
    JSON,
    SCOPE_FORBIDDEN_MESSAGE,
    Answer,
    Call,
    Calls,
    at,
    by_path,
    error,
    not_found,
    run,
)

# -- the contract, written down independently ---------------------------------------

EVERYONE = frozenset(Role)
STAFF = frozenset({Role.OWNER, Role.ADMIN, Role.ACCOUNTANT})  # "owner, admin, accountant"

# contracts/README.md, "What each role may do": every field with a role or scope rule.
CONTRACT_FIELD_ROLES: dict[tuple[str, str], frozenset[Role]] = {
    # "read business ...": every role
    ("Business", "name"): EVERYONE,
    ("Business", "country"): EVERYONE,
    ("Business", "defaultCurrency"): EVERYONE,
    # "read customers' email and phone, payment method details, the business's VAT number"
    ("Business", "vatNumber"): STAFF,
    ("Customer", "email"): STAFF,
    ("Customer", "phone"): STAFF,
    ("Payment", "paymentMethod"): STAFF,
    # "read the business's balance"
    ("Business", "balance"): STAFF,
    # "read ... invoices, payments' status and amounts": every role
    ("Invoice", "amountPending"): EVERYONE,
}

GB = next(b for b in BUSINESSES if b.id == GB_BUSINESS_ID)
GB_CUSTOMER = next(c for c in CUSTOMERS if c.id == GB_CUSTOMER_ID)
CARD_PAYMENT = next(p for p in PAYMENTS if p.id == SUCCEEDED_PAYMENT_ID)
TRANSFER = next(p for p in PAYMENTS if p.id == PENDING_PAYMENT_ID)


def _major(minor: int) -> str:
    return str(Decimal(minor).scaleb(-2))


@dataclass(frozen=True)
class FieldCase:
    type_name: str
    field: str
    root: str
    root_id: str
    # Fields of the same object open to every role, with their seed values.
    rest: JSON
    selection: str
    # The value an allowed role reads; None: any non-null value.
    value: Any

    @property
    def document(self) -> str:
        rest = " ".join(k if not isinstance(v, dict) else f"{k} {{ amount currency }}"
                        for k, v in self.rest.items())  # fmt: skip
        return f'{{ {self.root}(id: "{self.root_id}") {{ {rest} {self.selection} }} }}'

    def __str__(self) -> str:
        return f"{self.type_name}.{self.field}"


_BUSINESS_REST: JSON = {"id": GB.id}
_CUSTOMER_REST: JSON = {"id": GB_CUSTOMER.id, "name": GB_CUSTOMER.name}
_PAYMENT_REST: JSON = {
    "id": CARD_PAYMENT.id,
    "status": CARD_PAYMENT.status.upper(),
    "amount": {"amount": _major(CARD_PAYMENT.amount), "currency": CARD_PAYMENT.currency},
}
FIELD_CASES = [
    FieldCase("Business", "name", "business", GB.id, _BUSINESS_REST, "name", GB.name),
    FieldCase("Business", "country", "business", GB.id, _BUSINESS_REST, "country", GB.country),
    FieldCase("Business", "defaultCurrency", "business", GB.id, _BUSINESS_REST,
              "defaultCurrency", GB.default_currency),
    FieldCase("Business", "vatNumber", "business", GB.id, _BUSINESS_REST, "vatNumber",
              GB.vat_number),
    FieldCase("Business", "balance", "business", GB.id, _BUSINESS_REST,
              "balance { available { amount currency } pending { amount currency } }", None),
    FieldCase("Customer", "email", "customer", GB_CUSTOMER.id, _CUSTOMER_REST, "email",
              GB_CUSTOMER.email),
    FieldCase("Customer", "phone", "customer", GB_CUSTOMER.id, _CUSTOMER_REST, "phone",
              GB_CUSTOMER.phone),
    FieldCase("Payment", "paymentMethod", "payment", CARD_PAYMENT.id, _PAYMENT_REST,
              "paymentMethod { type brand last4 }",
              {"type": "CARD", "brand": "visa", "last4": "4242"}),
    FieldCase("Invoice", "amountPending", "invoice", TRANSFER.invoice_id,
              {"id": TRANSFER.invoice_id}, "amountPending { amount currency }",
              {"amount": _major(TRANSFER.amount), "currency": TRANSFER.currency}),
]  # fmt: skip


def test_the_matrix_covers_every_field_rule_of_the_policy() -> None:
    # A rule added to (or dropped from) policy.py without the contract changing fails here.
    assert set(policy.FIELD_RULES) == set(CONTRACT_FIELD_ROLES)
    assert {(c.type_name, c.field) for c in FIELD_CASES} == set(CONTRACT_FIELD_ROLES)
    assert all(c.value is not None or c.field == "balance" for c in FIELD_CASES)


@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("case", FIELD_CASES, ids=str)
async def test_each_role_reads_exactly_the_fields_the_contract_gives_it(
    gateway: httpx.AsyncClient, token_for: TokenFactory, case: FieldCase, role: Role
) -> None:
    # Given a first-party token with this role in the GB business
    token = token_for([(GB_BUSINESS_ID, role)])

    # When it reads the field on a seed object that has a value for it
    answer = await run(gateway, case.document, token)

    # Then an allowed role reads the value; any other gets null plus one FORBIDDEN there
    assert answer.status == 200
    if role in CONTRACT_FIELD_ROLES[(case.type_name, case.field)]:
        assert "errors" not in answer.body
        got = answer.body["data"][case.root]
        assert {k: got[k] for k in case.rest} == case.rest
        assert got[case.field] is not None
        if case.value is not None:
            assert got[case.field] == case.value
    else:
        location = at(case.document, case.selection)
        assert answer.body == {
            "data": {case.root: {**case.rest, case.field: None}},
            "errors": [
                error("FORBIDDEN", FIELD_FORBIDDEN_MESSAGE, [case.root, case.field], location)
            ],
        }


async def test_a_viewer_is_refused_each_closed_field_once_and_keeps_the_rest(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    # Given a viewer of GB reading every closed field in one request
    document = f"""{{
  business(id: "{GB.id}") {{
    id name country defaultCurrency vatNumber balance {{ available {{ amount }} }}
  }}
  customer(id: "{GB_CUSTOMER.id}") {{ id name email phone }}
  payment(id: "{CARD_PAYMENT.id}") {{ id status paymentMethod {{ type }} }}
}}"""
    calls = Calls(downstreams)

    # When it runs
    answer = await run(gateway, document, token_for([(GB_BUSINESS_ID, Role.VIEWER)]))

    # Then each closed field is null with one FORBIDDEN at its path, the rest is there
    def forbidden(path: list[str | int], needle: str) -> JSON:
        return error("FORBIDDEN", FIELD_FORBIDDEN_MESSAGE, path, at(document, needle))

    assert answer.status == 200
    assert answer.body["data"] == {
        "business": {
            "id": GB.id,
            "name": GB.name,
            "country": GB.country,
            "defaultCurrency": GB.default_currency,
            "vatNumber": None,
            "balance": None,
        },
        "customer": {"id": GB_CUSTOMER.id, "name": GB_CUSTOMER.name, "email": None, "phone": None},
        "payment": {"id": CARD_PAYMENT.id, "status": "SUCCEEDED", "paymentMethod": None},
    }
    assert by_path(answer.body["errors"]) == by_path(
        [
            forbidden(["business", "vatNumber"], "vatNumber"),
            forbidden(["business", "balance"], "balance"),
            forbidden(["customer", "email"], "email"),
            forbidden(["customer", "phone"], "phone"),
            forbidden(["payment", "paymentMethod"], "paymentMethod"),
        ]
    )
    # and the refused balance is not even fetched
    assert [c for c in await calls.take() if c.path == "/v1/balances"] == []


# -- partner scopes ---------------------------------------------------------------------

READ_SCOPES = ["businesses:read", "customers:read", "invoices:read", "payments:read"]
WRITE_SCOPES = ["customers:write", "invoices:write", "payments:write"]


@dataclass(frozen=True)
class Probe:
    """One read that needs exactly one scope, and its whole answer when refused."""

    name: str
    document: str
    scope: str
    # Where the value read is, when allowed (must be non-null).
    value_path: tuple[str, ...]
    denied: JSON
    # Downstream paths that must not be called when refused.
    not_fetched: tuple[str, ...]

    def __str__(self) -> str:
        return self.name


def _doc(root: str, root_id: str, selection: str) -> str:
    return f'{{ {root}(id: "{root_id}") {{ id {selection} }} }}'


def _field_denied(root: str, field: str, document: str, *, nullable: bool) -> JSON:
    return {
        "data": {root: {"id": GB.id, field: None} if nullable else None},
        "errors": [error("FORBIDDEN", FIELD_FORBIDDEN_MESSAGE, [root, field], at(document, field))],
    }


def _scope_denied(path: list[str | int], data: JSON, document: str) -> JSON:
    needle = f"{path[-1]}(" if len(path) == 1 else str(path[-1])
    return {
        "data": data,
        "errors": [error("FORBIDDEN", SCOPE_FORBIDDEN_MESSAGE, path, at(document, needle))],
    }


_NAME = _doc("business", GB.id, "name")
_VAT = _doc("business", GB.id, "vatNumber")
_BALANCE = _doc("business", GB.id, "balance { available { amount } }")
_CUSTOMER = _doc("customer", GB_CUSTOMER.id, "name")
_INVOICE = _doc("invoice", GB_OPEN_INVOICE_ID, "number")
_PAYMENT = _doc("payment", CARD_PAYMENT.id, "status")
_REFUND_NODE = _doc("node", PARTIAL_REFUND_ID, "")
_PAYMENT_NODE = _doc("node", CARD_PAYMENT.id, "")
_CUSTOMERS = _doc("business", GB.id, "customers(first: 1) { edges { node { id } } }")
_INVOICES = _doc("business", GB.id, "invoices(first: 1) { edges { node { id } } }")
_PAYMENTS = _doc("business", GB.id, "payments(first: 1) { edges { node { id } } }")

PROBES = [
    Probe("Business.name", _NAME, "businesses:read", ("business", "name"),
          _field_denied("business", "name", _NAME, nullable=False), ()),
    Probe("Business.vatNumber", _VAT, "businesses:read", ("business", "vatNumber"),
          _field_denied("business", "vatNumber", _VAT, nullable=True), ()),
    Probe("Business.balance", _BALANCE, "payments:read", ("business", "balance"),
          _field_denied("business", "balance", _BALANCE, nullable=True), ("/v1/balances",)),
    Probe("customer(id)", _CUSTOMER, "customers:read", ("customer", "name"),
          _scope_denied(["customer"], {"customer": None}, _CUSTOMER), ("/v1/customers",)),
    Probe("Business.customers", _CUSTOMERS, "customers:read", ("business", "customers"),
          _scope_denied(["business", "customers"], {"business": None}, _CUSTOMERS),
          ("/v1/customers",)),
    Probe("invoice(id)", _INVOICE, "invoices:read", ("invoice", "number"),
          _scope_denied(["invoice"], {"invoice": None}, _INVOICE), ("/v1/invoices",)),
    Probe("Business.invoices", _INVOICES, "invoices:read", ("business", "invoices"),
          _scope_denied(["business", "invoices"], {"business": None}, _INVOICES),
          ("/v1/invoices",)),
    Probe("payment(id)", _PAYMENT, "payments:read", ("payment", "status"),
          _scope_denied(["payment"], {"payment": None}, _PAYMENT), ("/v1/payments",)),
    Probe("Business.payments", _PAYMENTS, "payments:read", ("business", "payments"),
          _scope_denied(["business", "payments"], {"business": None}, _PAYMENTS),
          ("/v1/payments",)),
    # node(id) of a type the token may not read: NOT_FOUND, decided without a call.
    Probe("node(re_)", _REFUND_NODE, "payments:read", ("node", "id"),
          {"data": {"node": None}, "errors": [not_found(["node"], at(_REFUND_NODE, "node("))]},
          ("/v1/refunds",)),
    Probe("node(pay_)", _PAYMENT_NODE, "payments:read", ("node", "id"),
          {"data": {"node": None}, "errors": [not_found(["node"], at(_PAYMENT_NODE, "node("))]},
          ("/v1/payments",)),
]  # fmt: skip


def _dig(body: JSON, path: tuple[str, ...]) -> Any:
    value: Any = body["data"]
    for key in path:
        value = value[key]
    return value


SCOPE_SETS = [[scope] for scope in READ_SCOPES] + [WRITE_SCOPES, []]


@pytest.mark.parametrize("scopes", SCOPE_SETS, ids=lambda s: " ".join(s) or "empty")
@pytest.mark.parametrize("probe", PROBES, ids=str)
async def test_a_partner_token_reads_exactly_what_its_scopes_name(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    downstreams: Downstreams,
    probe: Probe,
    scopes: list[str],
) -> None:
    # Given a partner token of the GB owner with these scopes (the owner may read all)
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)], scopes=scopes)
    calls = Calls(downstreams)

    # When it makes a read that needs one scope
    answer = await run(gateway, probe.document, token)
    made: list[Call] = await calls.take()

    # Then it reads the value if it holds that scope; else the whole refusal, unfetched
    assert answer.status == 200
    if probe.scope in scopes:
        assert "errors" not in answer.body
        assert _dig(answer.body, probe.value_path) is not None
    else:
        assert answer.body == probe.denied
        assert [c for c in made if c.path in probe.not_fetched] == []


@pytest.mark.parametrize("role", sorted(STAFF), ids=str)
async def test_a_first_party_token_reads_everything_its_role_allows(
    gateway: httpx.AsyncClient, token_for: TokenFactory, role: Role
) -> None:
    # Given a token without a scope claim, of a role that may read every field
    token = token_for([(GB_BUSINESS_ID, role)])

    # When it reads every probe at once
    for probe in PROBES:
        answer = await run(gateway, probe.document, token)

        # Then nothing is refused
        assert answer.status == 200
        assert "errors" not in answer.body, probe.name
        assert _dig(answer.body, probe.value_path) is not None


INVOICE_EDGES = [
    ("customer", "customer { id name }"),
    ("payments", "payments { id status }"),
]


@pytest.mark.parametrize(("edge", "selection"), INVOICE_EDGES)
async def test_invoices_read_alone_does_not_open_an_invoices_customer_or_payments(
    gateway: httpx.AsyncClient,
    token_for: TokenFactory,
    downstreams: Downstreams,
    edge: str,
    selection: str,
) -> None:
    # Given a partner token with only invoices:read
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)], scopes=["invoices:read"])
    document = _doc("invoice", GB_OPEN_INVOICE_ID, selection)
    calls = Calls(downstreams)

    # When it follows the invoice's edge to another type
    answer = await run(gateway, document, token)

    # Then FORBIDDEN at the edge (the required child nulls the invoice), nothing fetched
    assert answer == Answer(200, _scope_denied(["invoice", edge], {"invoice": None}, document))
    assert [c.path for c in await calls.take()] == ["/v1/invoices"]


async def test_invoices_read_alone_reads_invoices_by_id_and_through_the_business(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)], scopes=["invoices:read"])
    document = f"""{{
  invoice(id: "{GB_OPEN_INVOICE_ID}") {{ id status }}
  business(id: "{GB.id}") {{
    id viewerRole invoices(first: 50, status: OPEN) {{ edges {{ node {{ id }} }} }}
  }}
}}"""

    answer = await run(gateway, document, token)

    assert answer.status == 200
    assert "errors" not in answer.body
    data = answer.body["data"]
    assert data["invoice"] == {"id": GB_OPEN_INVOICE_ID, "status": "OPEN"}
    assert {"node": {"id": GB_OPEN_INVOICE_ID}} in data["business"]["invoices"]["edges"]
    assert data["business"]["viewerRole"] == "OWNER"


async def test_nodes_with_a_partner_token_nulls_types_outside_its_scopes_without_a_call(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)], scopes=["invoices:read"])
    ids = [CARD_PAYMENT.id, GB_CUSTOMER.id, GB_OPEN_INVOICE_ID, PARTIAL_REFUND_ID]
    calls = Calls(downstreams)

    answer = await run(gateway, "query Q($ids: [ID!]!) { nodes(ids: $ids) { id } }", token,
                       {"ids": ids})  # fmt: skip

    assert answer == Answer(
        200, {"data": {"nodes": [None, None, {"id": GB_OPEN_INVOICE_ID}, None]}}
    )
    assert [c.path for c in await calls.take()] == ["/v1/invoices"]


async def test_an_empty_scope_claim_reads_no_object_data(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    # Given a partner token whose scope claim is empty
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)], scopes=[])
    calls = Calls(downstreams)

    # When it reads every field of every type
    for probe in PROBES:
        answer = await run(gateway, probe.document, token)

        # Then every read is refused
        assert answer.body == probe.denied, probe.name

    # and nothing but the business (whose id is in the token) is ever fetched
    assert {c.path for c in await calls.take()} <= {"/v1/businesses"}


# -- memberships and viewerRole ---------------------------------------------------------


async def test_memberships_show_each_business_with_its_own_role(
    gateway: httpx.AsyncClient, token_for: TokenFactory
) -> None:
    # Given a viewer of GB who owns IN
    token = token_for([(GB_BUSINESS_ID, Role.VIEWER), (IN_BUSINESS_ID, Role.OWNER)])
    document = "{ viewer { memberships { role business { id viewerRole vatNumber } } } }"

    # When they read their memberships with a field closed to viewers
    answer = await run(gateway, document, token)

    # Then both show with their roles, and the role of each business decides its field
    in_vat = next(b for b in BUSINESSES if b.id == IN_BUSINESS_ID).vat_number
    assert answer == Answer(
        200,
        {
            "data": {
                "viewer": {
                    "memberships": [
                        {
                            "role": "VIEWER",
                            "business": {"id": GB.id, "viewerRole": "VIEWER", "vatNumber": None},
                        },
                        {
                            "role": "OWNER",
                            "business": {
                                "id": IN_BUSINESS_ID,
                                "viewerRole": "OWNER",
                                "vatNumber": in_vat,
                            },
                        },
                    ]
                }
            },
            "errors": [
                error(
                    "FORBIDDEN",
                    FIELD_FORBIDDEN_MESSAGE,
                    ["viewer", "memberships", 0, "business", "vatNumber"],
                    at(document, "vatNumber"),
                )
            ],
        },
    )


@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("root", ["business", "node"])
async def test_viewer_role_is_the_role_the_token_names(
    gateway: httpx.AsyncClient, token_for: TokenFactory, role: Role, root: str
) -> None:
    token = token_for([(GB_BUSINESS_ID, role), (IN_BUSINESS_ID, Role.VIEWER)])
    document = f'{{ {root}(id: "{GB.id}") {{ id ... on Business {{ viewerRole }} }} }}'

    answer = await run(gateway, document, token)

    assert answer == Answer(200, {"data": {root: {"id": GB.id, "viewerRole": role.value.upper()}}})
