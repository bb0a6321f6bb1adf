"""Guarded fields run their rules straight from the plan (app/schema/compiled/guarded.py)
and answer exactly as through Strawberry's wrapper on graphql-core's executor: the toy
schema (tests/schema/compiled/toy.py) with the real `Owned` and `FieldPolicy`, as an
owner, a viewer, a partner without a scope and a stranger; and the completer branches
for unusual values. Which of the gateway's fields are guarded is pinned, and that a
guarded field builds no resolve info unless its resolver reads it."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from graphql import GraphQLObjectType
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app.auth.principal import Role
from app.schema.build import build_schema
from app.schema.compiled import CompiledExecutor, WrappedGuardsExecutor, run
from app.schema.compiled.guarded import guarded_resolver
from tests.schema.compiled import toy
from tests.schema.test_executor import _answer

PEOPLE = {
    "owner": toy.context(Role.OWNER),
    "viewer": toy.context(Role.VIEWER),
    "partner without payments:read": toy.context(Role.OWNER, frozenset({"customers:read"})),
    "partner without customers:read": toy.context(Role.OWNER, frozenset({"payments:read"})),
    "stranger": toy.context(None),
}


def _schema(executor: type[Any]) -> strawberry.Schema:
    return strawberry.Schema(query=toy.Query, execution_context_class=executor)


@pytest.mark.parametrize("person", PEOPLE)
@pytest.mark.parametrize("document", toy.DOCUMENTS.values(), ids=toy.DOCUMENTS.keys())
async def test_guarded_fields_answer_as_through_strawberrys_wrapper(
    document: str, person: str
) -> None:
    # given the toy schema on compiled plans, on plans with Strawberry's wrapper for the
    # guarded fields, and on graphql-core's executor alone
    compiled = _schema(CompiledExecutor)
    wrapped = _schema(WrappedGuardsExecutor)
    reference = _schema(StrawberryGraphQLCoreExecutionContext)
    context = PEOPLE[person]

    # when each runs the document twice (the second time from its plan)
    expected = _answer(await reference.execute(document, context_value=context))
    for _ in range(2):
        # then every answer is graphql-core's, errors, paths and extensions included
        assert _answer(await compiled.execute(document, context_value=context)) == expected
        assert _answer(await wrapped.execute(document, context_value=context)) == expected


def test_the_gateways_guarded_fields_are_the_ones_the_plan_runs_itself() -> None:
    schema = build_schema()._schema
    guarded: set[str] = set()
    wrapped: set[str] = set()
    for type_ in schema.type_map.values():
        if isinstance(type_, GraphQLObjectType) and type_.name in {
            "Business",
            "Customer",
            "Invoice",
            "Payment",
            "Query",
        }:
            for name, field in type_.fields.items():
                extensions = field.extensions["strawberry-definition"].extensions
                if extensions:
                    target = guarded if guarded_resolver(schema, field) else wrapped
                    target.add(f"{type_.name}.{name}")

    # the field rules on attributes and on sync resolvers without arguments
    assert guarded == {
        "Business.name",
        "Business.country",
        "Business.defaultCurrency",
        "Business.vatNumber",
        "Customer.email",
        "Customer.phone",
        "Invoice.customer",
        "Invoice.payments",
        "Invoice.amountPending",
        "Payment.paymentMethod",
        "Payment.refunds",
    }
    # async resolvers and fields with arguments keep Strawberry's wrapper
    assert {
        "Business.balance",
        "Business.invoices",
        "Customer.business",
        "Query.node",
        "Query.nodes",
        "Query.business",
    } <= wrapped


@pytest.mark.parametrize(
    ("executor", "infos"), [(CompiledExecutor, 0), (WrappedGuardsExecutor, 1 + 2 * 3)]
)
async def test_a_guarded_field_builds_no_resolve_info_unless_something_reads_it(
    monkeypatch: pytest.MonkeyPatch, executor: type[CompiledExecutor], infos: int
) -> None:
    built: list[str] = []
    original = executor.build_resolve_info

    def counted(self: Any, field_def: Any, nodes: Any, parent: Any, path: Any) -> Any:
        built.append(f"{parent.name}.{nodes[0].name.value}")
        return original(self, field_def, nodes, parent, path)

    monkeypatch.setattr(executor, "build_resolve_info", counted)
    schema = _schema(executor)
    document = "{ customers { email phone invoices { number } } }"
    # (the plan is built on the first run)
    await schema.execute(document, context_value=PEOPLE["owner"])
    built.clear()

    # when the document runs from its plan: `customers` (Owned) lists the owner's two,
    # each with three guarded fields
    result = await schema.execute(document, context_value=PEOPLE["owner"])

    # then none of them builds graphql-core's info on compiled plans; each did before
    assert result.errors is None
    assert len(built) == infos


class _SeesEveryField(SchemaExtension):
    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        return _next(root, info, *args, **kwargs)


async def test_with_a_resolve_hook_the_plans_step_aside() -> None:
    # given the toy schema with a schema extension that must see every field
    compiled = strawberry.Schema(
        query=toy.Query, execution_context_class=CompiledExecutor, extensions=[_SeesEveryField]
    )
    reference = _schema(StrawberryGraphQLCoreExecutionContext)
    document = toy.DOCUMENTS["field policy per role and scope"]
    context = PEOPLE["viewer"]

    # then it runs on graphql-core's path and answers the same
    assert _answer(await compiled.execute(document, context_value=context)) == _answer(
        await reference.execute(document, context_value=context)
    )


async def test_the_oldest_plans_are_dropped_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # given room for one plan and one verdict only
    monkeypatch.setattr(run, "MAX_PLANS", 1)
    compiled = _schema(CompiledExecutor)
    reference = _schema(StrawberryGraphQLCoreExecutionContext)
    documents = ["{ checked { label } }", "{ customer { name } }"]
    context = PEOPLE["owner"]

    # when two documents take turns, each replacing the other's plan
    for document in documents * 2:
        answer = _answer(await compiled.execute(document, context_value=context))

        # then each still answers as graphql-core does, and one plan is kept
        assert answer == _answer(await reference.execute(document, context_value=context))
        assert len(run._plans_of(compiled._schema).plans) == 1
