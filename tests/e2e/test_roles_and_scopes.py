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
    PAYMENTS,
    PENDING_PAYMENT_ID,
    SUCCEEDED_PAYMENT_ID,
)
from tests.e2e.conftest import Downstreams, TokenFactory
from tests.e2e.matrix_helpers import (
    FIELD_FORBIDDEN_MESSAGE,
    JSON,
    Answer,
    Calls,
    at,
    by_path,
    error,
    run,
)
from tests.e2e.scope_table import PROBES

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


# -- partner scopes (every path, every scope set: tests/e2e/test_partner_scopes.py) --------


@pytest.mark.parametrize("role", sorted(STAFF), ids=str)
async def test_a_first_party_token_reads_everything_its_role_allows(
    gateway: httpx.AsyncClient, token_for: TokenFactory, role: Role
) -> None:
    # Given a token without a scope claim, of a role that may read every field
    token = token_for([(GB_BUSINESS_ID, role)])

    # When it makes every read of the scope table
    answers = {p.name: (await run(gateway, p.document, token)).body for p in PROBES}

    # Then nothing is refused: each answer is the one with every scope held
    assert answers == {p.name: p.expected(None)[0] for p in PROBES}


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


async def test_an_empty_scope_claim_reads_no_object_data(
    gateway: httpx.AsyncClient, token_for: TokenFactory, downstreams: Downstreams
) -> None:
    # Given a partner token whose scope claim is empty
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)], scopes=[])
    calls = Calls(downstreams)

    # When it makes every read of the scope table
    answers = {p.name: (await run(gateway, p.document, token)).body for p in PROBES}

    # Then every read is refused at its first step
    assert answers == {p.name: p.expected([])[0] for p in PROBES}
    assert all("errors" in body for body in answers.values())
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
