"""What a request weighs against its caller's rate-limit budget: the larger of its
document's cost (app/schema/limits/cost.py: its worst case in downstream calls), worked
out before it runs with the same cached parse and checks execution then reuses, and the
work of reading its text (`text_weight`).

Why the text counts too: graphql-core's parser is pure Python. Measured on this machine
(2 cores): about 8 us a token (a 2,000-token document, the GRAPHQL_MAX_TOKENS default,
17 ms; 40 to 110 ms under load) and 0.37 us a byte of comment or string (100 KB, 37 ms).
A document that is refused (does not parse, breaks a limit, fails validation) costs
nothing downstream, but its parse is real: priced at 1, a caller at its sustained budget
could spend most of a core on refusals, and a normal user's `viewer` went from 4 ms to
41-136 ms under such an attack (tests/attack/). So every document weighs at least 1 per
25 tokens and 1 per KiB (about 0.2 to 0.4 ms of parsing each): a maximal document weighs
81 (refused unparsed, app/schema/limits/tokens.py), 300 duplicated fields 49, a 1 MiB
comment the whole bucket; a typical dashboard document (~150 tokens) 6, under its cost
of 55, and a one-object read (~20 tokens) 1, so normal traffic pays what it paid before.
Tokens are counted as the parser counts them, at C speed (app/schema/limits/tokens.py),
stopping past the token limit: counting a maximal document takes about 0.5 ms."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLSchema,
    OperationType,
    get_operation_ast,
    specified_rules,
)

from app.schema.limits.extension import DocumentChecks, operation_selection_errors
from app.schema.limits.tokens import count_tokens

# Strawberry's default validation rules: the same key as execution's, so one check.
_RULES = tuple(specified_rules)
TOKENS_PER_UNIT = 25
BYTES_PER_UNIT = 1024


def text_weight(query: str, max_tokens: int, tokens: int | None = None) -> int:
    """At least 1; 1 per TOKENS_PER_UNIT tokens (counted up to just past `max_tokens`,
    unless given) and 1 per BYTES_PER_UNIT bytes, whichever is more."""
    if tokens is None:
        tokens = count_tokens(query, stop_after=max_tokens + 1)
    by_size = math.ceil(len(query.encode()) / BYTES_PER_UNIT)
    return max(1, math.ceil(tokens / TOKENS_PER_UNIT), by_size)


class CostWeigher:
    def __init__(self, schema: GraphQLSchema, checks: DocumentChecks, max_cost: int) -> None:
        self._schema = schema
        self._checks = checks
        self._max_cost = max_cost

    def text(self, query: str) -> int:
        """What reading `query` weighs, known before it is parsed."""
        checks = self._checks
        return text_weight(query, checks.limits.max_tokens, checks.tokens(query))

    def __call__(
        self, query: str, operation_name: str | None, variables: Mapping[str, Any] | None
    ) -> int:
        return max(self.text(query), self._cost(query, operation_name, variables))

    def operation_type(self, query: str, operation_name: str | None) -> OperationType | None:
        """The type of the operation `query` would run (its cached parse), or None when
        it does not parse or names none: execution refuses those in its own words."""
        try:
            document = self._checks.parse(query)
        except GraphQLError:
            return None
        operation = get_operation_ast(document, operation_name)
        return operation.operation if operation is not None else None

    def _cost(
        self, query: str, operation_name: str | None, variables: Mapping[str, Any] | None
    ) -> int:
        if self._checks.too_many_tokens(query):
            return 1  # refused before it is parsed
        try:
            document = self._checks.parse(query)
        except GraphQLError:
            return 1
        if self._checks.errors(self._schema, query, document, _RULES):
            return 1
        if operation_selection_errors(document, operation_name):
            return 1
        analysis = self._checks.cost(self._schema, document, variables, operation_name)
        if analysis.page_size_errors or analysis.cost > self._max_cost:
            return 1  # refused as BAD_USER_INPUT or QUERY_TOO_COMPLEX: nothing runs
        return analysis.cost
