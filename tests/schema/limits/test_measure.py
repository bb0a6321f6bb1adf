"""Directives, aliases and depth from the document alone: fragments count where they are
spread, cycles and long chains never recurse, introspection is not held to the depth."""

from __future__ import annotations

import pytest
from graphql import GraphQLError, get_introspection_query, parse

from app.schema.build import build_schema
from app.schema.limits.config import Limits
from app.schema.limits.error_cap import capped
from app.schema.limits.extension import DocumentChecks
from app.schema.limits.measure import FieldCount, Shape, count_directives, count_fields, shape


def test_directives_are_counted_wherever_they_are_written() -> None:
    document = parse(
        "query Q($v: Int @a) @b { viewer @c { id @d ...F @e ... @f { id } } } "
        "fragment F on Viewer @g { id @h }"
    )

    assert count_directives(document) == 8


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ viewer { id } }", Shape(aliases=0, depth=2)),
        ("{ a: viewer { b: id } c: viewer { id } }", Shape(aliases=3, depth=2)),
        ("{ viewer { ...F } } fragment F on Viewer { x: id y: id }", Shape(aliases=2, depth=2)),
        (
            "{ viewer { ...F } v: viewer { ...F } } fragment F on Viewer { x: id y: id }",
            Shape(aliases=5, depth=2),
        ),
        (
            "{ viewer { ... on Viewer { memberships { role } } } }",
            Shape(aliases=0, depth=3),
        ),
        # The largest operation is measured; only one runs per request.
        ("query A { a: viewer { id } } query B { viewer { memberships { role } } }", Shape(1, 3)),
    ],
)
def test_aliases_and_depth(query: str, expected: Shape) -> None:
    assert shape(parse(query)) == expected


def test_depth_adds_up_through_a_chain_of_fragments() -> None:
    document = parse(
        "{ viewer { ...A } } "
        "fragment A on Viewer { memberships { ...B } } "
        "fragment B on Membership { business { ...C } } "
        "fragment C on Business { invoices { edges { node { id } } } }"
    )

    assert shape(document) == Shape(aliases=0, depth=7)


@pytest.mark.parametrize(
    "query",
    [
        "{ viewer { ...A } } fragment A on Viewer { a: id ...A }",
        "{ viewer { ...A } } fragment A on Viewer { ...B } fragment B on Viewer { b: id ...A }",
    ],
    ids=["self", "two"],
)
def test_a_cycle_counts_as_empty_where_it_closes(query: str) -> None:
    assert shape(parse(query)) == Shape(aliases=1, depth=2)


def test_a_chain_of_thousands_of_fragments_does_not_recurse() -> None:
    count = 5000
    fragments = " ".join(f"fragment F{i} on Viewer {{ ...F{i + 1} }}" for i in range(count))
    document = parse(
        "{ viewer { ...F0 } } " + fragments + f" fragment F{count} on Viewer {{ a: id }}"
    )

    assert shape(document) == Shape(aliases=1, depth=2)


def test_unknown_and_duplicate_fragments_do_not_break_the_measure() -> None:
    document = parse(
        "{ viewer { ...Missing ...F } } "
        "fragment F on Viewer { a: id } fragment F on Viewer { b: id c: id }"
    )

    assert shape(document) == Shape(aliases=1, depth=2)


def test_introspection_is_measured_for_aliases_but_not_depth() -> None:
    assert shape(parse(get_introspection_query(descriptions=True))).depth == 1
    assert shape(parse("{ s: __schema { t: types { name } } }")) == Shape(aliases=2, depth=1)


def test_the_error_cap_keeps_short_lists_whole() -> None:
    errors = [GraphQLError(f"e{i}") for i in range(3)]

    assert capped(errors, 3) == errors
    assert [e.message for e in capped(errors, 2)] == ["e0", "e1", "1 more errors were left out."]


def test_document_checks_are_cached_by_text_and_bounded() -> None:
    schema = build_schema()._schema
    checks = DocumentChecks(Limits(max_aliases=1), hide_suggestions=True, maxsize=2)
    rules: tuple[()] = ()
    over = "{ a: viewer { id } b: viewer { id } }"

    first = checks.errors(schema, over, parse(over), rules)
    # The same text answers from the cache, even with another (here: empty) document.
    assert checks.errors(schema, over, parse("{ viewer { id } }"), rules) == first
    assert [e.extensions for e in first] == [
        {"code": "QUERY_TOO_COMPLEX", "limit": "aliases", "maximum": 1, "value": 2}
    ]
    # Two more texts push the first out: it is checked again.
    for text in ("{ viewer { id } }", "{ __typename }"):
        assert checks.errors(schema, text, parse(text), rules) == []
    assert checks.errors(schema, over, parse("{ viewer { id } }"), rules) == []
    # A document without text (set by an extension) is checked every time.
    assert checks.errors(schema, None, parse(over), rules) != []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ viewer { id } }", FieldCount(fields=2, repeated=1)),
        ("{ viewer { id id } viewer { id } }", FieldCount(fields=5, repeated=2)),
        # fragments count where they are spread, and merge into the selection they sit in
        (
            "{ viewer { id ...F ...F } } fragment F on Viewer { id memberships { role } }",
            FieldCount(8, 3),
        ),
        ("{ viewer { ... on Viewer { id } id } }", FieldCount(fields=3, repeated=2)),
        # introspection is fields too
        ("{ __schema { types { name } } }", FieldCount(fields=3, repeated=1)),
    ],
)
def test_fields_and_repeated_response_keys(query: str, expected: FieldCount) -> None:
    assert count_fields(parse(query)) == expected


def test_a_fragment_bomb_is_counted_without_expanding_it() -> None:
    levels = 40
    bomb = (
        "{ ...F0 } "
        + " ".join(f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(levels))
        + f" fragment F{levels} on Query {{ viewer {{ id }} }}"
    )

    assert count_fields(parse(bomb)) == FieldCount(fields=2**levels * 2, repeated=2**levels)
