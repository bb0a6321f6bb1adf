"""The public schema keeps every name and type of the contracts' schema-core.graphql:
the web and mobile apps are coded against them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    ast_from_value,
    build_schema,
    print_ast,
)

from app.schema.build import build_schema as build_gateway_schema
from app.schema.versioning import current_sdl
from tests.paths import CONTRACTS_DIR

CONTRACTS = Path(os.environ.get("CONTRACTS_DIR", CONTRACTS_DIR))


@pytest.fixture(scope="module")
def core() -> GraphQLSchema:
    path = CONTRACTS / "schema-core.graphql"
    assert path.is_file(), f"contracts not found at {path} (set CONTRACTS_DIR)"
    return build_schema(path.read_text())


@pytest.fixture(scope="module")
def ours() -> GraphQLSchema:
    return build_gateway_schema()._schema


def _kind(named: GraphQLNamedType) -> str:
    for kind in (
        GraphQLObjectType,
        GraphQLInterfaceType,
        GraphQLInputObjectType,
        GraphQLEnumType,
        GraphQLUnionType,
    ):
        if isinstance(named, kind):
            return kind.__name__
    return "scalar"


def _default(argument: GraphQLArgument) -> str | None:
    if argument.ast_node is not None and argument.ast_node.default_value is not None:
        return print_ast(argument.ast_node.default_value)
    if argument.default_value is not None and str(argument.default_value) != "Undefined":
        value = ast_from_value(argument.default_value, argument.type)
        return print_ast(value) if value else None
    return None


def differences(core: GraphQLSchema, ours: GraphQLSchema, skip: set[str]) -> list[str]:
    problems = []
    for name, expected in core.type_map.items():
        if name.startswith("__") or name in skip:
            continue
        actual = ours.type_map.get(name)
        if actual is None:
            problems.append(f"type {name} is missing")
            continue
        if _kind(actual) != _kind(expected):
            problems.append(f"type {name} is a {_kind(actual)}, not a {_kind(expected)}")
            continue
        if isinstance(expected, GraphQLEnumType):
            assert isinstance(actual, GraphQLEnumType)
            problems += [
                f"enum value {name}.{v} is missing"
                for v in expected.values
                if v not in actual.values
            ]
        if isinstance(expected, GraphQLObjectType):
            assert isinstance(actual, GraphQLObjectType)
            have = {interface.name for interface in actual.interfaces}
            problems += [
                f"{name} does not implement {i.name}"
                for i in expected.interfaces
                if i.name not in have
            ]
        if isinstance(expected, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            problems += _field_differences(name, expected, actual)
    return problems


def _field_differences(name: str, expected: object, actual: object) -> list[str]:
    problems = []
    for field_name, field in expected.fields.items():  # type: ignore[attr-defined]
        mine = actual.fields.get(field_name)  # type: ignore[attr-defined]
        where = f"{name}.{field_name}"
        if mine is None:
            problems.append(f"field {where} is missing")
            continue
        if str(mine.type) != str(field.type):
            problems.append(f"field {where} is {mine.type}, not {field.type}")
        for arg_name, arg in getattr(field, "args", {}).items():
            my_arg = mine.args.get(arg_name)
            if my_arg is None:
                problems.append(f"argument {where}({arg_name}) is missing")
                continue
            if str(my_arg.type) != str(arg.type):
                problems.append(f"argument {where}({arg_name}) is {my_arg.type}, not {arg.type}")
            if _default(my_arg) != _default(arg):
                problems.append(f"argument {where}({arg_name}) defaults to {_default(my_arg)}")
        extra_required = [
            a
            for a, my_arg in getattr(mine, "args", {}).items()
            if a not in getattr(field, "args", {})
            and str(my_arg.type).endswith("!")
            and _default(my_arg) is None
        ]
        problems += [f"argument {where}({a}) is new and required" for a in extra_required]
    return problems


def test_every_schema_core_name_exists_with_the_same_type(
    core: GraphQLSchema, ours: GraphQLSchema
) -> None:
    assert differences(core, ours, set()) == []


def test_the_check_catches_a_retyped_field(core: GraphQLSchema) -> None:
    broken = build_schema(
        (CONTRACTS / "schema-core.graphql")
        .read_text()
        .replace("taxRateBps: Int!", "taxRateBps: Float!")
    )

    assert "field Invoice.taxRateBps is Float!, not Int!" in differences(core, broken, set())


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("  number: String!\n", "  invoiceNumber: String!\n"), "field Invoice.number is missing"),
        (
            ('  """Cancelled; nothing is owed."""\n  VOID\n', ""),
            "enum value InvoiceStatus.VOID is missing",
        ),
        (
            ("  taxRateBps: Int!", "  taxRateBps: Decimal!"),
            "field Invoice.taxRateBps is Decimal!, not Int!",
        ),
        (("    first: Int = 20", "    first: Int = 50"), "argument Business.customers(first)"),
        (("type Refund implements Node {", "type Refund {"), "Refund does not implement Node"),
        (
            ("    after: String\n", "    after: String\n\n    region: String!\n"),
            "argument Business.customers(region) is new and required",
        ),
    ],
)
def test_our_schema_broken_anywhere_fails_the_check(
    core: GraphQLSchema, change: tuple[str, str], expected: str
) -> None:
    # Given the gateway's own schema, renamed, retyped or narrowed in one place
    sdl = current_sdl()
    assert change[0] in sdl
    broken = build_schema(sdl.replace(*change, 1))

    # Then the conformance check names the break
    found = differences(core, broken, set())
    assert any(problem.startswith(expected) for problem in found), found
