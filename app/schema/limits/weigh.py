"""What a request weighs against its caller's rate-limit budget: its document's cost
(app/schema/limits/cost.py), worked out before it runs, with the same cached parse and
checks execution then reuses. A document that will be refused (does not parse, breaks a
limit, fails validation, holds several operations and names none, asks for a page size
out of range or costs more than the maximum) weighs 1: it runs nothing and costs nothing
downstream."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import GraphQLError, GraphQLSchema, specified_rules

from app.schema.limits.cost import analyse_cost
from app.schema.limits.extension import DocumentChecks, operation_selection_errors

# Strawberry's default validation rules: the same key as execution's, so one check.
_RULES = tuple(specified_rules)


class CostWeigher:
    def __init__(self, schema: GraphQLSchema, checks: DocumentChecks, max_cost: int) -> None:
        self._schema = schema
        self._checks = checks
        self._max_cost = max_cost

    def __call__(
        self, query: str, operation_name: str | None, variables: Mapping[str, Any] | None
    ) -> int:
        try:
            document = self._checks.parse(query)
        except GraphQLError:
            return 1
        if self._checks.errors(self._schema, query, document, _RULES):
            return 1
        if operation_selection_errors(document, operation_name):
            return 1
        analysis = analyse_cost(
            document,
            variables,
            operation_name,
            self._schema,
            introspection_cost=self._checks.limits.introspection_cost,
        )
        if analysis.page_size_errors or analysis.cost > self._max_cost:
            return 1  # refused as BAD_USER_INPUT or QUERY_TOO_COMPLEX: nothing runs
        return analysis.cost
