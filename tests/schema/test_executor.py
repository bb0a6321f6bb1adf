"""app/schema/executor.py's short path answers exactly as graphql-core's executor does.

Every document here runs twice, once through LeanExecutor and once through Strawberry's
own executor, and the whole answers (data, and errors with message, path and location)
must be equal: plain leaves, nulls in non-null fields, values a scalar refuses, methods
that raise, errors that bubble through a plain object, awaitable attributes. Then the
short path is pinned: which fields of the gateway's schema take it, that none of them is
guarded, and that a schema extension with a resolve hook still sees every field.
"""

from __future__ import annotations

import enum
from collections.abc import Generator
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionResult

from app.schema.build import build_schema
from app.schema.executor import LeanExecutor, takes_short_path


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Amount:
    minor: strawberry.Private[int]
    currency: str
    label: str | None

    @strawberry.field
    def major(self) -> str:
        return f"{self.minor / 100:.2f}"

    @strawberry.field
    def must_not_be_null(self) -> str:
        return None  # type: ignore[return-value] # the broken resolver under test

    @strawberry.field
    def fails(self) -> str | None:
        raise ValueError("the method failed")

    @strawberry.field
    async def fails_later(self) -> str:
        raise ValueError("the async method failed")


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Pet(Named):
    legs: int


async def _later() -> str:
    return "awaited"


class _Later:
    """Awaitable; its coroutine is made only when awaited, so no item leaves one behind."""

    def __await__(self) -> Generator[Any, None, str]:
        return _later().__await__()


@strawberry.type
class Item:
    id: strawberry.ID
    title: str
    count: int
    colour: Colour
    note: str | None
    broken_title: str
    wrong_count: int
    error_value: str | None
    later: str
    price: Amount
    missing_price: Amount | None
    required_price: Amount
    pet: Pet

    @strawberry.field
    def greeting(self, name: str = "you") -> str:
        return f"hello {name} from {self.title}"

    @strawberry.field
    def shouted(self, info: strawberry.Info) -> str:
        return f"{self.title.upper()} ({info.field_name})"

    @strawberry.field
    async def slowly(self) -> str:
        return self.title


def _item(number: int) -> Item:
    return Item(
        id=strawberry.ID(f"item_{number}"),
        title=f"item {number}",
        count=number,
        colour=Colour.RED if number % 2 else Colour.BLUE,
        note=None if number % 2 else "even",
        broken_title=None,  # type: ignore[arg-type] # a null in a non-null field
        wrong_count="not a number",  # type: ignore[arg-type] # a value Int refuses
        error_value=ValueError("an error returned as a value"),  # type: ignore[arg-type]
        later=_Later(),  # type: ignore[arg-type] # an awaitable attribute
        price=Amount(minor=1250 * number, currency="GBP", label=None),
        missing_price=None,
        required_price=Amount(minor=1, currency="GBP", label="x"),
        pet=Pet(name="Rex", legs=4),
    )


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [_item(1), _item(2)]

    @strawberry.field
    def item(self) -> Item:
        return _item(3)


def _schemas(**kwargs: Any) -> tuple[strawberry.Schema, strawberry.Schema]:
    return (
        strawberry.Schema(query=Query, execution_context_class=LeanExecutor, **kwargs),
        strawberry.Schema(
            query=Query, execution_context_class=StrawberryGraphQLCoreExecutionContext, **kwargs
        ),
    )


def _answer(result: ExecutionResult) -> dict[str, Any]:
    return {"data": result.data, "errors": [error.formatted for error in result.errors or []]}


async def _both(document: str, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    lean, reference = _schemas(**kwargs)
    return _answer(await lean.execute(document)), _answer(await reference.execute(document))


DOCUMENTS = {
    "plain leaves and enums": "{ items { id title count colour note __typename } }",
    "aliases and fragments": (
        "{ items { a: title b: title ...F } } fragment F on Item { count c: colour }"
    ),
    "plain method leaves": "{ items { price { major currency label } } }",
    "null in a non-null leaf": "{ items { id brokenTitle } }",
    "a value the scalar refuses": "{ items { id wrongCount } }",
    "an error returned as a value": "{ items { id errorValue } }",
    "a method that raises": "{ item { price { major fails } } }",
    "a non-null method that returns null bubbles": "{ item { id price { mustNotBeNull } } }",
    "a null plain object": "{ item { missingPrice { major } } }",
    "a non-null plain object whose child bubbles": (
        "{ item { title requiredPrice { mustNotBeNull } } }"
    ),
    "an awaitable attribute": "{ items { later } }",
    "an async child of a plain object fails and bubbles": (
        "{ item { title requiredPrice { major failsLater } } }"
    ),
    "a type with an interface": "{ item { pet { name legs } } }",
    "arguments, info and async resolvers": (
        '{ item { greeting(name: "Ann") plain: greeting shouted slowly } }'
    ),
    "skip and include": (
        "{ items { id @skip(if: true) title @include(if: false) count @include(if: true) } }"
    ),
}


@pytest.mark.parametrize("document", DOCUMENTS.values(), ids=DOCUMENTS.keys())
async def test_the_short_path_answers_exactly_as_graphql_core(document: str) -> None:
    # given the same document and schema, once with each executor
    # when both execute it
    lean, reference = await _both(document)

    # then the answers are identical, errors and all
    assert lean == reference
    assert lean["data"] is not None or lean["errors"]


@pytest.mark.parametrize(
    ("type_name", "field_name"),
    [
        ("Item", "title"),
        ("Item", "colour"),
        ("Item", "brokenTitle"),
        ("Item", "later"),
        ("Item", "price"),
        ("Item", "requiredPrice"),
        ("Amount", "major"),
        ("Amount", "fails"),
    ],
)
def test_the_documents_above_take_the_short_path(type_name: str, field_name: str) -> None:
    # Otherwise the comparisons above would compare graphql-core with itself.
    lean, _ = _schemas()

    assert takes_short_path(lean._schema, type_name, field_name)


@pytest.mark.parametrize(
    ("type_name", "field_name"),
    [("Item", "greeting"), ("Item", "shouted"), ("Item", "slowly"), ("Item", "pet")],
)
def test_arguments_info_async_and_interfaces_keep_graphql_cores_path(
    type_name: str, field_name: str
) -> None:
    lean, _ = _schemas()

    assert not takes_short_path(lean._schema, type_name, field_name)


async def test_the_documents_above_exercise_errors_at_their_paths() -> None:
    # A guard against a comparison of two equally empty answers.
    lean, _ = await _both(DOCUMENTS["a non-null plain object whose child bubbles"])

    # (item is non-null too, so the null reaches the root)
    assert lean == {
        "data": None,
        "errors": [
            {
                "message": "Cannot return null for non-nullable field Amount.mustNotBeNull.",
                "locations": [{"line": 1, "column": 32}],
                "path": ["item", "requiredPrice", "mustNotBeNull"],
            }
        ],
    }


async def test_a_configured_default_resolver_is_the_one_the_short_path_reads_with() -> None:
    # given a schema whose basic fields are read by a resolver of its own
    def upper_strings(source: object, name: str) -> object:
        value = getattr(source, name)
        return value.upper() if isinstance(value, str) else value

    config = StrawberryConfig(default_resolver=upper_strings)

    # when a document of plain fields runs through both executors
    lean, reference = await _both("{ items { title count price { currency } } }", config=config)

    # then both read through it
    assert lean == reference
    assert lean["data"]["items"][0] == {"title": "ITEM 1", "count": 1, "price": {"currency": "GBP"}}


def test_a_synchronous_execution_takes_the_short_path_too() -> None:
    lean, reference = _schemas()
    document = DOCUMENTS["null in a non-null leaf"]

    assert _answer(lean.execute_sync(document)) == _answer(reference.execute_sync(document))


class _CountsFields(SchemaExtension):
    seen: list[str]

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        _CountsFields.seen.append(info.field_name)
        return _next(root, info, *args, **kwargs)


async def test_a_schema_extension_that_resolves_still_sees_every_field() -> None:
    # given a schema extension with a resolve hook (a graphql-core middleware)
    _CountsFields.seen = []
    lean, _ = _schemas(extensions=[_CountsFields])

    # when a document of plain leaves runs
    result = await lean.execute("{ item { id title price { major } } }")

    # then every field went through the hook, none around it
    assert result.errors is None
    assert sorted(_CountsFields.seen) == ["id", "item", "major", "price", "title"]


@pytest.mark.parametrize(
    ("type_name", "field_name"),
    [
        ("Invoice", "number"),
        ("Invoice", "status"),
        ("Invoice", "dueDate"),
        ("Invoice", "total"),
        ("Money", "amount"),
        ("Money", "formatted"),
        ("Money", "currency"),
        ("Customer", "name"),
        ("Payment", "amount"),
        ("PageInfo", "endCursor"),
        ("Business", "viewerRole"),
    ],
)
def test_the_dashboards_plain_fields_take_the_short_path(type_name: str, field_name: str) -> None:
    schema = build_schema()._schema

    assert takes_short_path(schema, type_name, field_name)


@pytest.mark.parametrize(
    ("type_name", "field_name", "why"),
    [
        ("Customer", "email", "guarded by FieldPolicy"),
        ("Payment", "paymentMethod", "guarded by FieldPolicy"),
        ("Business", "vatNumber", "guarded by FieldPolicy"),
        ("Invoice", "customer", "guarded by Owned"),
        ("Payment", "refunds", "guarded by Owned"),
        ("Business", "invoices", "takes arguments"),
        ("Invoice", "lines", "a list"),
        ("Query", "business", "guarded and takes arguments"),
    ],
)
def test_guarded_and_other_fields_keep_graphql_cores_path(
    type_name: str, field_name: str, why: str
) -> None:
    schema = build_schema()._schema

    assert not takes_short_path(schema, type_name, field_name), why


def test_only_object_types_are_asked_about() -> None:
    with pytest.raises(ValueError, match="not an object type"):
        takes_short_path(build_schema()._schema, "Node", "id")
