"""Checks that the public schema documents itself: every element has a description,
money says its units and gives an example, and a deprecation says why. Each returns the
names at fault, so a test can run it on the real schema and on a broken one."""

from __future__ import annotations

import re
from collections.abc import Iterator

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
)

BUILT_IN_SCALARS = {"String", "Boolean", "Int", "Float", "ID"}
MONEY_TYPES = {"Money", "MoneyInput", "Decimal"}
_UNITS = re.compile(r"\b(major|minor) units\b", re.IGNORECASE)
_EXAMPLE = re.compile(r'"\d+(\.\d+)?"')
# What graphql-core fills in for a bare @deprecated: it tells a client nothing.
_DEFAULT_REASON = "No longer supported"

Element = GraphQLNamedType | GraphQLField | GraphQLArgument | GraphQLInputField | GraphQLEnumValue


def _named(type_: GraphQLType) -> GraphQLNamedType:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    assert isinstance(type_, GraphQLNamedType)
    return type_


def elements(schema: GraphQLSchema) -> Iterator[tuple[str, Element]]:
    """Every type, field, argument, input field and enum value a client can see, named
    as `Type`, `Type.field`, `Type.field(argument)` and `Enum.VALUE`."""
    for name, type_ in schema.type_map.items():
        if name.startswith("__") or name in BUILT_IN_SCALARS:
            continue
        yield name, type_
        if isinstance(type_, GraphQLEnumType):
            for value_name, value in type_.values.items():
                yield f"{name}.{value_name}", value
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in type_.fields.items():
                yield f"{name}.{field_name}", field
                for arg_name, arg in getattr(field, "args", {}).items():
                    yield f"{name}.{field_name}({arg_name})", arg


def undocumented(schema: GraphQLSchema) -> list[str]:
    return [name for name, element in elements(schema) if not (element.description or "").strip()]


def _is_money(element: Element) -> bool:
    if isinstance(element, GraphQLNamedType):
        return element.name in MONEY_TYPES
    if isinstance(element, GraphQLEnumValue):
        return False
    return _named(element.type).name in MONEY_TYPES


def money_elements(schema: GraphQLSchema) -> list[str]:
    """Money, money inputs, decimals, and every field, argument or input field of them."""
    return [name for name, element in elements(schema) if _is_money(element)]


def money_without_units_or_example(schema: GraphQLSchema) -> list[str]:
    """Money must name its units and show an example amount such as "12.50"."""
    described = dict(elements(schema))
    return [
        name
        for name in money_elements(schema)
        if not (
            _UNITS.search(described[name].description or "")
            and _EXAMPLE.search(described[name].description or "")
        )
    ]


def deprecated_without_reason(schema: GraphQLSchema) -> list[str]:
    found = []
    for name, element in elements(schema):
        reason = getattr(element, "deprecation_reason", None)
        if reason is not None and reason.strip() in ("", _DEFAULT_REASON):
            found.append(name)
    return found
