"""Plain scalar and enum fields serialised inline by the plan's walk (plan.py's `Leaf`)
answer exactly as graphql-core does for every value, not only the usual ones: values
the scalar refuses, None in non-null and nullable fields, readers that raise, awaitable
values, enum members and strings that are not, values of other types the scalar
converts; in a list, so that errors carry item paths and null bubbling stops at the
right object. And the usual values take the inline path: the completer is not called."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app.schema.compiled import CompiledExecutor, CompletedLeavesExecutor
from tests.schema.compiled.toy import soon
from tests.schema.test_executor import _answer


@strawberry.enum
class Colour(enum.Enum):
    RED = "RED"
    BLUE = "BLUE"


@strawberry.type
class Thing:
    name: str
    count: int
    ratio: float
    flag: bool
    colour: Colour
    maybe_name: str | None
    maybe_count: int | None
    maybe_colour: Colour | None
    price: Decimal
    at: dt.datetime
    day: dt.date

    @strawberry.field
    def label(self) -> str:
        if self.name == "raises":
            raise ValueError("the label could not be read")
        return self.name.upper()

    @strawberry.field
    def later(self) -> str:
        # A plain method answering an awaitable: graphql-core waits for it.
        return soon(self.name)  # type: ignore[return-value]


def _thing(**changes: Any) -> Thing:
    values: dict[str, Any] = {
        "name": "usual",
        "count": 3,
        "ratio": 0.5,
        "flag": True,
        "colour": Colour.RED,
        "maybe_name": None,
        "maybe_count": 7,
        "maybe_colour": None,
        "price": Decimal("12.30"),
        "at": dt.datetime(2026, 12, 4, 9, 30, tzinfo=dt.UTC),
        "day": dt.date(2026, 12, 4),
    } | changes
    return Thing(**values)


UNUSUAL = {
    "usual values": {},
    "an int past 32 bits, non-null": {"count": 2**40},
    "an int past 32 bits, nullable": {"maybe_count": -(2**40)},
    "None in a non-null scalar": {"name": None},
    "None in a non-null enum": {"colour": None},
    "a string that is no member, non-null": {"colour": "GREEN"},
    "a string that is no member, nullable": {"maybe_colour": "GREEN"},
    "a member's value instead of the member": {"colour": "BLUE"},
    "an int for a string": {"name": 42},
    "a bool for an int": {"count": True},
    "an int for a float": {"ratio": 2},
    "a float with a fraction for an int": {"count": 2.5},
    "a string for a bool": {"flag": "yes"},
    "an object for a string": {"maybe_name": object()},
    "an error as a value": {"maybe_name": ValueError("an error held as a value")},
    "an awaitable value in a nullable field": {"maybe_name": "later"},
    "a reader that raises": {"name": "raises"},
    "not a finite float": {"ratio": float("nan")},
}

DOCUMENT = """{ things {
    name count ratio flag colour maybeName maybeCount maybeColour price at day label later
    alias: count
} }"""


def _schema(executor: type[Any], changes: dict[str, Any]) -> strawberry.Schema:
    @strawberry.type
    class Query:
        @strawberry.field
        def things(self) -> list[Thing | None]:
            odd = _thing(**changes)
            if changes.get("maybe_name") == "later":
                odd.maybe_name = soon("answered later")  # type: ignore[assignment]
            return [_thing(), odd, _thing(name="third")]

    return strawberry.Schema(query=Query, execution_context_class=executor)


@pytest.mark.parametrize("changes", UNUSUAL.values(), ids=UNUSUAL.keys())
async def test_plain_leaves_answer_as_graphql_core_does(changes: dict[str, Any]) -> None:
    # given the schema on compiled plans with inline leaves, on plans without them, and
    # on graphql-core's executor alone
    reference = _schema(StrawberryGraphQLCoreExecutionContext, changes)
    expected = _answer(await reference.execute(DOCUMENT))
    # (the document's second run is from its plan)
    for executor in (CompiledExecutor, CompletedLeavesExecutor):
        schema = _schema(executor, changes)
        for _ in range(2):
            # when it runs; then the answer is graphql-core's, errors and paths included
            assert _answer(await schema.execute(DOCUMENT)) == expected


async def test_a_refused_value_is_reported_at_its_item_and_nulls_that_item() -> None:
    # given the second of three things holding an int the Int scalar refuses
    schema = _schema(CompiledExecutor, {"count": 2**40})

    # when the document runs from its plan
    await schema.execute("{ things { name count } }")
    result = await schema.execute("{ things { name count } }")

    # then the non-null count nulls its thing, the only error is at its path, and the
    # siblings answer
    assert result.data == {
        "things": [{"name": "usual", "count": 3}, None, {"name": "third", "count": 3}]
    }
    assert [(error.message, error.path) for error in result.errors or []] == [
        (
            "Int cannot represent non 32-bit signed integer value: 1099511627776",
            ["things", 1, "count"],
        )
    ]


@pytest.mark.parametrize(
    ("executor", "completed"), [(CompiledExecutor, 0), (CompletedLeavesExecutor, 3 * 12)]
)
async def test_usual_values_skip_the_completer(
    monkeypatch: pytest.MonkeyPatch, executor: type[CompiledExecutor], completed: int
) -> None:
    # given a count of the plan's calls of the completer path for plain fields
    # (every plain field that is not serialised inline, read by _read or by the walk,
    # is completed through _complete_read)
    calls: list[str] = []
    complete_read = executor._complete_read

    def counted_complete_read(self: Any, step: Any, value: Any, path: Any) -> Any:
        calls.append(step.key)
        return complete_read(self, step, value, path)

    monkeypatch.setattr(executor, "_complete_read", counted_complete_read)
    schema = _schema(executor, {})
    leaves = "name count ratio flag colour maybeName maybeCount maybeColour price at day label"
    document = f"{{ things {{ {leaves} }} }}"
    await schema.execute(document)
    calls.clear()

    # when three things of usual values run from the plan
    result = await schema.execute(document)

    # then with inline leaves none of their twelve leaves takes the completer; without,
    # every one does
    assert result.errors is None
    assert len([key for key in calls if key != "things"]) == completed
