"""A request's rate-limit weight is its document's cost, worked out from the same cached
parse and checks that execution reuses; a document that will be refused weighs 1."""

from __future__ import annotations

from graphql import get_introspection_query, parse

from app.schema.build import GatewaySchema, build_schema
from app.schema.limits.config import Limits
from app.schema.limits.cost import document_cost
from app.schema.limits.extension import DocumentChecks
from app.schema.limits.weigh import CostWeigher
from sandbox.seed import GB_BUSINESS_ID

NESTED = (
    f'query Q($n: Int!) {{ business(id: "{GB_BUSINESS_ID}") {{ customers(first: $n) '
    "{ edges { node { invoices(first: 5) { edges { node { id } } } } } } } }"
)


def rig() -> tuple[CostWeigher, DocumentChecks, GatewaySchema]:
    checks = DocumentChecks(Limits(), hide_suggestions=True)
    schema = build_schema(checks=checks)
    return CostWeigher(schema._schema, checks, Limits().max_cost), checks, schema


def test_the_weight_is_the_documents_cost_with_its_variables() -> None:
    weigh, _, _ = rig()

    weight = weigh(NESTED, "Q", {"n": 20})

    # the business (1), its customers listing (1), one invoice listing per customer (20)
    assert weight == 22
    assert weight == document_cost(parse(NESTED), {"n": 20}, "Q", build_schema()._schema)


def test_a_document_that_will_be_refused_weighs_one() -> None:
    weigh, _, _ = rig()

    assert weigh("{ business(", None, None) == 1  # does not parse
    assert weigh("{ viewer { nope } }", None, None) == 1  # fails validation
    too_deep = "{ viewer " + "{ memberships " * 20 + "{ role }" + " }" * 21
    assert weigh(too_deep, None, None) == 1  # over the depth limit
    assert weigh(NESTED, "Q", {"n": 0}) == 1  # a page size out of range
    costly = NESTED.replace(
        "invoices(first: 5)",
        "invoices(first: 100) { edges { node { payments { refunds { id } } } } } "
        "x: invoices(first: 5)",
    )
    assert weigh(costly, "Q", {"n": 100}) == 1  # over the cost limit
    repeated = "{ " + "viewer { id } " * 200 + "}"
    assert weigh(repeated, None, None) == 1  # over the limit on repeated response keys
    # several operations and no name: refused before anything runs
    assert weigh(f"{NESTED} query R {{ viewer {{ id }} }}", None, {"n": 20}) == 1
    assert weigh(f"{NESTED} query R {{ viewer {{ id }} }}", "Q", {"n": 20}) == 22


def test_an_introspection_weighs_what_it_costs() -> None:
    weigh, _, _ = rig()

    assert weigh(get_introspection_query(descriptions=True), None, None) == 200
    assert weigh('{ __type(name: "Invoice") { name } }', None, None) == 10


async def test_execution_reuses_the_parse_and_checks_the_weighing_did() -> None:
    weigh, checks, schema = rig()
    query = "query Once { viewer { id } }"

    weigh(query, None, None)
    result = await schema.execute(query)

    info = checks.parse.cache_info()  # type: ignore[attr-defined]
    assert (info.misses, info.hits) == (1, 1)
    assert result.errors  # no context: the resolver fails, but parsing was shared
