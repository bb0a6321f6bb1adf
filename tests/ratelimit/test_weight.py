"""The interim request weight: one token per root field of the operation that runs."""

from __future__ import annotations

from app.ratelimit.weight import request_weight


def test_a_single_root_field_costs_one() -> None:
    assert request_weight("{ viewer { id } }", None) == 1


def test_every_root_field_and_alias_costs_one() -> None:
    query = "{ a: viewer { id } b: viewer { id } c: viewer { id } __typename }"
    assert request_weight(query, None) == 4


def test_root_fields_inside_fragments_count() -> None:
    query = """
    query Q { ...F ... on Query { x: viewer { id } } ...F }
    fragment F on Query { viewer { id } y: viewer { id } }
    """
    assert request_weight(query, "Q") == 3


def test_the_named_operation_is_weighed() -> None:
    query = """
    query One { viewer { id } }
    query Three { a: viewer { id } b: viewer { id } c: viewer { id } }
    """
    assert request_weight(query, "Three") == 3
    assert request_weight(query, "One") == 1


def test_documents_that_will_not_run_cost_one() -> None:
    assert request_weight("{ viewer {", None) == 1
    assert request_weight("query A { a } query B { b c }", None) == 1  # which one?
    assert request_weight("query A { a b }", "Missing") == 1
    assert request_weight("fragment F on Query { a b }", None) == 1
    assert request_weight("query Q { ...Cycle } fragment Cycle on Query { a ...Cycle }", "Q") == 1
