"""Introspection follows the token: a partner token's `__schema` and `__type` show what its
scopes reach, a first-party token's the whole schema, and the published SDL stays whole.

What each scope set may see is written down here from the contracts README's scope list,
not read back from app/auth/policy.py.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from graphql import (
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    get_introspection_query,
    introspection_from_schema,
    print_schema,
    validate_schema,
)

from app.auth.principal import KNOWN_SCOPES, Principal, Role
from app.schema import visibility
from app.schema.build import GatewaySchema, build_schema
from app.schema.versioning import current_sdl
from app.schema.visibility import MAX_KEPT, filtered, visible_schema
from tests.paths import REPO_ROOT

EVERY_QUERY_FIELD = {
    "viewer",
    "node",
    "nodes",
    "business",
    "customer",
    "invoice",
    "payment",
    "mutationOutcome",
}
EVERY_MUTATION = {
    "createCustomer",
    "createInvoice",
    "finalizeInvoice",
    "voidInvoice",
    "payInvoice",
    "refundPayment",
}
EVERY_BUSINESS_FIELD = {
    "id",
    "name",
    "country",
    "defaultCurrency",
    "vatNumber",
    "viewerRole",
    "balance",
    "customers",
    "invoices",
    "payments",
}


@dataclass(frozen=True)
class Sight:
    """What a token with `scopes` sees: root fields, Business fields, types in and out."""

    scopes: frozenset[str]
    query: set[str]
    mutation: set[str] | None
    business: set[str]
    present: set[str] = field(default_factory=set)
    absent: set[str] = field(default_factory=set)
    # Fields of a type shown: (type, its visible fields).
    shapes: dict[str, set[str]] = field(default_factory=dict)

    def __str__(self) -> str:
        return " ".join(sorted(self.scopes)) or "empty"


_ROOT = {"viewer", "node", "nodes", "business"}
_BARE_BUSINESS = {"id", "viewerRole"}
SIGHTS = [
    Sight(
        frozenset(),
        query=_ROOT,
        mutation=None,
        business=_BARE_BUSINESS,
        present={"Viewer", "Membership", "Node", "Role"},
        absent={"Customer", "Invoice", "Payment", "Refund", "Balance", "UserError",
                "CreateCustomerInput", "InvoiceConnection", "CountryCode"},
    ),
    Sight(
        frozenset({"businesses:read"}),
        query=_ROOT,
        mutation=None,
        business=_BARE_BUSINESS | {"name", "country", "defaultCurrency", "vatNumber"},
        present={"CountryCode", "CurrencyCode"},
        absent={"Customer", "Invoice", "Payment", "Balance"},
    ),
    Sight(
        frozenset({"payments:read"}),
        query=_ROOT | {"payment"},
        mutation=None,
        business=_BARE_BUSINESS | {"balance", "payments"},
        present={"Payment", "Refund", "Balance", "PaymentConnection"},
        absent={"Invoice", "Customer", "InvoiceConnection", "PayInvoicePayload"},
        shapes={"Payment": {"id", "status", "amount", "amountRefunded", "failureCode",
                            "paymentMethod", "createdAt", "business", "refunds"}},
    ),
    Sight(
        frozenset({"invoices:read", "invoices:write"}),
        query=_ROOT | {"invoice"},
        mutation={"createInvoice", "finalizeInvoice", "voidInvoice"},
        business=_BARE_BUSINESS | {"invoices"},
        present={"Invoice", "CreateInvoiceInput", "VoidInvoicePayload", "UserError"},
        absent={"Customer", "Payment", "CreateCustomerInput", "PayInvoiceInput"},
        shapes={
            "Invoice": {"id", "number", "status", "currency", "lines", "taxRateBps",
                        "subtotal", "tax", "total", "amountPaid", "amountDue", "dueDate",
                        "isOverdue", "createdAt", "updatedAt", "business"},
            "CreateInvoicePayload": {"invoice", "userErrors", "replayed"},
        },
    ),
    Sight(
        frozenset({"payments:read", "payments:write"}),
        query=_ROOT | {"payment"},
        mutation={"payInvoice", "refundPayment"},
        business=_BARE_BUSINESS | {"balance", "payments"},
        present={"PayInvoicePayload", "RefundPaymentPayload", "PayInvoiceInput"},
        absent={"Invoice", "Customer", "CreateInvoicePayload"},
        shapes={"PayInvoicePayload": {"payment", "userErrors", "replayed"},
                "Payment": {"id", "status", "amount", "amountRefunded", "failureCode",
                            "paymentMethod", "createdAt", "business", "refunds"}},
    ),
    Sight(
        frozenset({"customers:write"}),
        query=_ROOT,
        mutation={"createCustomer"},
        business=_BARE_BUSINESS,
        present={"CreateCustomerInput", "CreateCustomerPayload"},
        absent={"Customer"},
        shapes={"CreateCustomerPayload": {"userErrors", "replayed"}},
    ),
    Sight(
        KNOWN_SCOPES,
        query=EVERY_QUERY_FIELD,
        mutation=EVERY_MUTATION,
        business=EVERY_BUSINESS_FIELD,
    ),
]  # fmt: skip


@pytest.fixture(scope="module")
def gateway_schema() -> GatewaySchema:
    return build_schema()


def _context(scopes: frozenset[str] | None) -> SimpleNamespace:
    principal = Principal("iss", "user_1", {"biz_GBdemo": Role.OWNER}, scopes)
    return SimpleNamespace(principal=principal, request_id="req_test")


# The query introspection_from_schema runs: everything introspection can tell.
INTROSPECTION = get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
    experimental_directive_deprecation=True,
    one_of=True,
)


async def _introspect(schema: GatewaySchema, scopes: frozenset[str] | None) -> dict[str, Any]:
    result = await schema.execute(INTROSPECTION, context_value=_context(scopes))
    assert result.errors is None
    assert result.data is not None
    return result.data


def _fields(data: dict[str, Any], type_name: str) -> set[str] | None:
    found = next((t for t in data["__schema"]["types"] if t["name"] == type_name), None)
    return None if found is None else {f["name"] for f in found["fields"] or ()}


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "full-executor"])
async def test_a_first_party_token_sees_the_whole_schema(lean: bool) -> None:
    # Given either executor
    schema = build_schema(lean_executor=lean)
    # When a token without a scope claim introspects
    data = await _introspect(schema, None)
    # Then it gets exactly the whole schema's introspection
    assert data == introspection_from_schema(schema._schema)


@pytest.mark.parametrize("sight", SIGHTS, ids=str)
async def test_a_partner_token_sees_what_its_scopes_reach(
    gateway_schema: GatewaySchema, sight: Sight
) -> None:
    # When a partner token with these scopes introspects
    data = await _introspect(gateway_schema, sight.scopes)
    schema = data["__schema"]
    names = {t["name"] for t in schema["types"]}
    # Then it sees the root fields, mutations, types and fields its scopes reach
    # (mutationOutcome with any mutation: only a token that may write has outcomes)
    assert _fields(data, "Query") == sight.query | (
        {"mutationOutcome"} if sight.mutation else set()
    )
    assert _fields(data, "Mutation") == sight.mutation
    assert (schema["mutationType"] is None) == (sight.mutation is None)
    assert _fields(data, "Business") == sight.business
    assert sight.present <= names
    assert sight.absent & names == set()
    for type_name, shown in sight.shapes.items():
        assert _fields(data, type_name) == shown, type_name
    # and nothing in it names a type it does not list
    assert _named(schema) <= names


def _named(schema: dict[str, Any]) -> set[str]:
    """Every type name the introspection refers to."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("name"), str) and "kind" in value and "ofType" in value:
                found.add(value["name"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(schema)
    return found


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "full-executor"])
async def test_type_lookups_and_possible_types_follow_the_token(lean: bool) -> None:
    schema = build_schema(lean_executor=lean)
    document = """{
      invoice: __type(name: "Invoice") { name }
      payment: __type(name: "Payment") { name fields { name } }
      node: __type(name: "Node") { possibleTypes { name } }
    }"""

    result = await schema.execute(document, context_value=_context(frozenset({"payments:read"})))

    assert result.errors is None
    assert result.data is not None
    assert result.data["invoice"] is None
    assert "invoice" not in {f["name"] for f in result.data["payment"]["fields"]}
    assert {t["name"] for t in result.data["node"]["possibleTypes"]} == {
        "Business",
        "Payment",
        "Refund",
    }


def test_every_scope_set_gives_a_valid_part_of_the_schema_that_grows_with_its_scopes(
    gateway_schema: GatewaySchema,
) -> None:
    whole = gateway_schema._schema
    subsets = [
        frozenset(c) for n in range(len(KNOWN_SCOPES) + 1)
        for c in itertools.combinations(sorted(KNOWN_SCOPES), n)
    ]  # fmt: skip
    shown = {scopes: _coordinates(visible_schema(whole, scopes)) for scopes in subsets}
    for scopes in subsets:
        schema = visible_schema(whole, scopes)
        assert validate_schema(schema) == [], scopes
        assert shown[scopes] <= shown[KNOWN_SCOPES]
        for scope in KNOWN_SCOPES - scopes:
            assert shown[scopes] <= shown[scopes | {scope}]
    assert shown[KNOWN_SCOPES] == _coordinates(whole)
    assert len(subsets) == 128


def _coordinates(schema: GraphQLSchema) -> set[tuple[str, str]]:
    return {
        (name, field_name)
        for name, type_ in schema.type_map.items()
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType)
        for field_name in type_.fields
    }


def test_filtering_out_nothing_changes_nothing(gateway_schema: GatewaySchema) -> None:
    # The rebuild itself loses no description, default, deprecation or order.
    whole = gateway_schema._schema
    rebuilt = filtered(whole, frozenset(), KNOWN_SCOPES)
    assert rebuilt is not whole
    assert introspection_from_schema(rebuilt) == introspection_from_schema(whole)
    assert visible_schema(whole, KNOWN_SCOPES) is whole


def test_filtered_schemas_are_kept_but_bounded() -> None:
    whole = build_schema()._schema
    subsets = [frozenset(c) for c in itertools.combinations(sorted(KNOWN_SCOPES), 3)]
    assert len(subsets) > MAX_KEPT

    first = visible_schema(whole, subsets[0])
    assert visible_schema(whole, subsets[0]) is first
    for scopes in subsets:
        visible_schema(whole, scopes)

    kept = visibility._kept[whole].schemas
    assert len(kept) == MAX_KEPT
    assert subsets[0] not in kept
    # scopes the gateway does not know change nothing (the verifier drops them too)
    assert visible_schema(whole, subsets[-1] | {"admin:everything"}) is kept[subsets[-1]]


def test_the_published_sdl_stays_whole(gateway_schema: GatewaySchema) -> None:
    # Given partner tokens have introspected (filtered schemas exist)
    visible_schema(gateway_schema._schema, frozenset())
    # Then the schema printed and committed is still the whole one
    committed = (REPO_ROOT / "app" / "schema" / "schema.graphql").read_text()
    assert current_sdl().strip() == committed.strip()
    assert "createCustomer" in print_schema(gateway_schema._schema)
