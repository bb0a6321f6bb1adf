"""The schema documents itself, and the checks that say so catch what they should: a
removed description, money without units or an example, a deprecation without a reason.
Each check is proven on a copy of the real schema broken in exactly one place."""

from __future__ import annotations

import pytest
from graphql import (
    DocumentNode,
    EnumValueDefinitionNode,
    FieldDefinitionNode,
    GraphQLSchema,
    InputValueDefinitionNode,
    Node,
    StringValueNode,
    build_ast_schema,
    parse,
    visit,
)
from graphql.language import Visitor

from app.schema.build import build_schema
from app.schema.versioning import current_sdl
from tests.schema.documentation import (
    deprecated_without_reason,
    elements,
    money_elements,
    money_without_units_or_example,
    undocumented,
)


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema()._schema


def test_every_type_field_argument_enum_value_and_input_field_is_documented(
    schema: GraphQLSchema,
) -> None:
    assert undocumented(schema) == []


def test_the_check_covers_every_kind_of_element(schema: GraphQLSchema) -> None:
    names = dict(elements(schema))

    for expected in (
        "Invoice",  # object type
        "Node",  # interface
        "CurrencyCode",  # enum
        "Decimal",  # scalar
        "PayInvoiceInput",  # input type
        "Invoice.total",  # field
        "Business.invoices(status)",  # argument
        "CurrencyCode.KWD",  # enum value
        "PayInvoiceInput.amount",  # input field
    ):
        assert expected in names


def test_money_everywhere_names_its_units_and_shows_an_example(schema: GraphQLSchema) -> None:
    assert money_without_units_or_example(schema) == []


def test_the_money_check_looks_at_every_money_element(schema: GraphQLSchema) -> None:
    money = set(money_elements(schema))

    assert "Money.currency" not in money
    assert {
        "Money",
        "MoneyInput",
        "Decimal",
        "Money.amount",
        "Invoice.total",
        "Invoice.amountDue",
        "Payment.amountRefunded",
        "Balance.available",
        "PayInvoiceInput.amount",
        "InvoiceLineInput.unitAmount",
    } <= money


def test_no_deprecation_goes_without_a_reason(schema: GraphQLSchema) -> None:
    assert deprecated_without_reason(schema) == []


class _ChangeDescription(Visitor):
    """Sets the description of one element of an SDL document (None removes it), the
    element named as `elements` names it."""

    def __init__(self, target: str, description: str | None) -> None:
        super().__init__()
        self.target, self.description = target, description
        self.type_name = self.field_name = ""

    def _name_of(self, node: Node) -> str | None:
        name = node.name.value if getattr(node, "name", None) is not None else ""  # type: ignore[attr-defined]
        if node.kind.endswith("_type_definition"):
            self.type_name, self.field_name = name, ""
            return name
        if isinstance(node, FieldDefinitionNode):
            self.field_name = name
            return f"{self.type_name}.{name}"
        if isinstance(node, InputValueDefinitionNode) and self.field_name:
            return f"{self.type_name}.{self.field_name}({name})"
        if isinstance(node, InputValueDefinitionNode | EnumValueDefinitionNode):
            return f"{self.type_name}.{name}"
        return None

    def enter(self, node: Node, *_args: object) -> Node | None:
        if self._name_of(node) != self.target:
            return None
        value = StringValueNode(value=self.description) if self.description else None
        fields = {key: getattr(node, key) for key in node.keys}
        return node.__class__(**{**fields, "description": value})

    def leave(self, node: Node, *_args: object) -> None:
        if isinstance(node, FieldDefinitionNode):
            self.field_name = ""


def with_description(target: str, description: str | None) -> GraphQLSchema:
    document = visit(parse(current_sdl()), _ChangeDescription(target, description))
    assert isinstance(document, DocumentNode)
    return build_ast_schema(document)


@pytest.mark.parametrize(
    "target",
    [
        "Invoice",
        "Node",
        "CurrencyCode",
        "Decimal",
        "PayInvoiceInput",
        "Invoice.total",
        "Business.invoices(status)",
        "CurrencyCode.KWD",
        "PayInvoiceInput.amount",
    ],
)
def test_removing_any_description_fails_the_check(target: str) -> None:
    assert undocumented(with_description(target, None)) == [target]


@pytest.mark.parametrize(
    ("target", "description"),
    [
        ("Invoice.total", 'subtotal + tax, e.g. "1500.00".'),  # no units
        ("Invoice.total", "subtotal + tax, in major units."),  # no example
        ("PayInvoiceInput.amount", "Defaults to the whole amount due."),
        ("MoneyInput", "An amount of money."),
        ("Money.amount", 'Exact amount as a decimal string, e.g. "1250.50".'),
    ],
)
def test_money_without_units_or_an_example_fails_the_check(target: str, description: str) -> None:
    assert money_without_units_or_example(with_description(target, description)) == [target]


def test_a_bare_deprecation_fails_the_check() -> None:
    sdl = current_sdl()
    deprecated = build_ast_schema(
        parse(sdl.replace("  taxRateBps: Int!", "  taxRateBps: Int! @deprecated", 1))
    )
    explained = build_ast_schema(
        parse(
            sdl.replace(
                "  taxRateBps: Int!",
                '  taxRateBps: Int! @deprecated(reason: "Use taxRate, a Decimal.")',
                1,
            )
        )
    )

    assert deprecated_without_reason(deprecated) == ["Invoice.taxRateBps"]
    assert deprecated_without_reason(explained) == []
