"""The schema cannot forget a rule: every field that yields an object of a business has
the ownership guard, and every field rule of app/auth/policy.py is wired (and nothing else
is). Documentation is checked in test_documentation.py."""

from __future__ import annotations

import pytest
import strawberry
from graphql import (
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types.field import StrawberryField

from app.auth import policy
from app.schema.build import build_schema
from app.schema.types.guards import FieldPolicy, Owned
from app.schema.types.nodes import Business, Invoice
from app.schema.types.scalars import SCALARS

# Every GraphQL type whose objects belong to one business, and the pages of them.
OWNED_TYPES = {
    "Node",
    "Business",
    "Customer",
    "Invoice",
    "Payment",
    "Refund",
    "Balance",
    "CustomerConnection",
    "InvoiceConnection",
    "PaymentConnection",
}


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema()._schema


def named(type_: GraphQLType) -> GraphQLNamedType:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    assert isinstance(type_, GraphQLNamedType)
    return type_


def definition(field: GraphQLField) -> StrawberryField:
    found = field.extensions["strawberry-definition"]
    assert isinstance(found, StrawberryField)
    return found


def object_fields(schema: GraphQLSchema) -> list[tuple[str, str, GraphQLField]]:
    return [
        (type_name, field_name, field)
        for type_name, type_ in schema.type_map.items()
        if isinstance(type_, GraphQLObjectType) and not type_name.startswith("__")
        for field_name, field in type_.fields.items()
    ]


def unguarded(schema: GraphQLSchema) -> list[str]:
    return [
        f"{type_name}.{field_name}"
        for type_name, field_name, field in object_fields(schema)
        if named(field.type).name in OWNED_TYPES
        # Edges inside a page are already guarded by the field that returned the page.
        and not type_name.endswith(("Connection", "Edge"))
        and not any(isinstance(e, Owned) for e in definition(field).extensions)
    ]


def test_every_object_returning_field_has_an_ownership_guard(schema: GraphQLSchema) -> None:
    assert unguarded(schema) == []


async def _no_invoice() -> Invoice | None:
    return None


@strawberry.type(description="A type whose edge forgot its ownership guard.")
class Leaky:
    invoice: Invoice | None = strawberry.field(resolver=_no_invoice)


@strawberry.type(description="Root of the leaky schema.")
class LeakyQuery:
    leaky: Leaky = strawberry.field(resolver=Leaky)


def test_the_ownership_check_finds_a_field_without_a_guard() -> None:
    # Given a schema with an edge that forgot its guard
    leaky_schema = strawberry.Schema(
        query=LeakyQuery, types=[Business], config=StrawberryConfig(scalar_map=SCALARS)
    )._schema

    # Then the check names it
    assert unguarded(leaky_schema) == ["Leaky.invoice"]


def test_every_field_rule_is_wired_and_nothing_else_claims_one(schema: GraphQLSchema) -> None:
    wired = {
        (type_name, field_name)
        for type_name, field_name, field in object_fields(schema)
        if FieldPolicy in definition(field).permission_classes
    }

    assert wired == set(policy.FIELD_RULES)


def test_every_mutation_rule_names_a_mutation_of_the_contract() -> None:
    assert set(policy.MUTATION_RULES) == {
        "createCustomer",
        "createInvoice",
        "finalizeInvoice",
        "voidInvoice",
        "payInvoice",
        "refundPayment",
    }


def test_every_owned_type_has_a_read_scope_rule() -> None:
    concrete = OWNED_TYPES - {"Node"} - {t for t in OWNED_TYPES if t.endswith("Connection")}
    assert set(policy.TYPE_READ_SCOPES) == concrete
