"""The limits wired into Strawberry, all before execution, in this order:

1. tokens, while parsing: graphql-core's parser stops at `max_tokens` (comments count);
2. directives, aliases, depth, fields and repeated response keys, from the document
   alone; over a limit, that one error and nothing else (not even validation) is
   answered;
3. the specification's validation, with "Did you mean ...?" suggestions hidden in
   production (a prober would otherwise read field, argument and enum names from them);
   then the operation to run: several operations and no operationName is an error, as
   the specification's GetOperation says (Strawberry alone would run the first);
4. with the request's variables: `first` outside 1..100 (BAD_USER_INPUT), then the cost.

Parsing and steps 2 and 3 depend only on the text and are cached by it, in place of
Strawberry's ParserCache and ValidationCache. (ParserCache raises a syntax error from its
hook, which skips every extension's work after the operation: the error would go out
unworded and uncapped.) A refused document never reaches a resolver, so it costs no
downstream call.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from functools import lru_cache, partial

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    validate,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from app.schema.limits.config import Limits
from app.schema.limits.cost import CostAnalysis, analyse_cost
from app.schema.limits.error_cap import too_complex
from app.schema.limits.measure import count_directives, count_fields, shape
from app.schema.limits.tokens import count_tokens

# Validation stops after this many errors (graphql-core's own default); ErrorCap then
# shows the first few and counts the rest.
VALIDATION_MAX_ERRORS = 100
Rules = tuple[type[ASTValidationRule], ...]
# Variables longer than this (as JSON) are not remembered with a cost: worked out again.
_MAX_REMEMBERED_VARIABLES = 1024
_COSTS_KEPT = 64


class DocumentChecks:
    """Steps 2 and 3 for one schema, with a bounded cache keyed by the document's text."""

    def __init__(self, limits: Limits, *, hide_suggestions: bool, maxsize: int = 256) -> None:
        self.limits = limits
        self._hide_suggestions = hide_suggestions
        self._maxsize = maxsize
        self._cache: OrderedDict[tuple[str, Rules], list[GraphQLError]] = OrderedDict()
        # Failures are not cached: Strawberry parses again to report them.
        self.parse: Callable[[str], DocumentNode] = lru_cache(maxsize)(
            partial(parse, max_tokens=limits.max_tokens)
        )
        # The cost walk, once per request: admission weighs a request (weigh.py) with
        # the inputs the validation step then checks; keyed by the parsed document (the
        # same object from the parse cache), its variables and operation.
        self._costs: OrderedDict[
            tuple[int, int, str | None, int, str], tuple[object, object, CostAnalysis]
        ] = OrderedDict()
        # Counted once per text: admission, the weight and the parse step all ask.
        self.tokens: Callable[[str], int] = lru_cache(maxsize)(
            partial(count_tokens, stop_after=limits.max_tokens + 1)
        )

    def cost(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, object] | None,
        operation_name: str | None,
    ) -> CostAnalysis:
        """analyse_cost, worked out once for the same schema, document, variables and
        operation asked again while remembered (the last 64; an analysis with errors is
        not kept: its errors go into one answer only)."""
        introspection = self.limits.introspection_cost
        try:
            shown = json.dumps(variables, sort_keys=True) if variables else ""
        except (TypeError, ValueError):
            shown = None
        if shown is None or len(shown) > _MAX_REMEMBERED_VARIABLES:
            return analyse_cost(
                document, variables, operation_name, schema, introspection_cost=introspection
            )
        key = (id(schema), id(document), operation_name, introspection, shown)
        kept = self._costs.get(key)
        # The objects themselves are kept with the analysis: an id is only theirs while
        # they live.
        if kept is not None and kept[0] is schema and kept[1] is document:
            self._costs.move_to_end(key)
            return kept[2]
        analysis = analyse_cost(
            document, variables, operation_name, schema, introspection_cost=introspection
        )
        if not analysis.page_size_errors:
            self._costs[key] = (schema, document, analysis)
            if len(self._costs) > _COSTS_KEPT:
                self._costs.popitem(last=False)
        return analysis

    def too_many_tokens(self, query: str) -> bool:
        """Over the token limit, known without parsing (app/schema/limits/tokens.py)."""
        return self.tokens(query) > self.limits.max_tokens

    def errors(
        self, schema: GraphQLSchema, query: str | None, document: DocumentNode, rules: Rules
    ) -> list[GraphQLError]:
        if query is None:
            return self._check(schema, document, rules)
        key = (query, rules)
        found = self._cache.get(key)
        if found is None:
            found = self._check(schema, document, rules)
            self._cache[key] = found
            if len(self._cache) > self._maxsize:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return list(found)

    def _check(
        self, schema: GraphQLSchema, document: DocumentNode, rules: Rules
    ) -> list[GraphQLError]:
        limits = self.limits
        directives = count_directives(document)
        if directives > limits.max_directives:
            return [too_complex("directives", limits.max_directives, directives)]
        measured = shape(document)
        if measured.aliases > limits.max_aliases:
            return [too_complex("aliases", limits.max_aliases, measured.aliases)]
        if measured.depth > limits.max_depth:
            return [too_complex("depth", limits.max_depth, measured.depth)]
        counted = count_fields(document)
        if counted.fields > limits.max_fields:
            return [too_complex("fields", limits.max_fields, counted.fields)]
        if counted.repeated > limits.max_repeated_fields:
            limit = limits.max_repeated_fields
            return [too_complex("repeated_fields", limit, counted.repeated)]
        # Strawberry's own two rules, as its validate_document adds them.
        return validate(
            schema,
            document,
            (*rules, MaybeNullValidationRule, OneOfInputValidationRule),
            max_errors=VALIDATION_MAX_ERRORS,
            hide_suggestions=self._hide_suggestions,
        )


def operation_selection_errors(
    document: DocumentNode, operation_name: str | None
) -> list[GraphQLError]:
    """The specification's GetOperation: without a name, the document must hold exactly
    one operation (Strawberry would run the first of several)."""
    if operation_name is not None:
        return []
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) > 1:
        return [
            GraphQLError(
                "Must provide operation name if query contains multiple operations.",
                nodes=operations,
                extensions={"code": "OPERATION_RESOLUTION_FAILURE"},
            )
        ]
    return []


class DocumentLimits(SchemaExtension):
    """List it after ErrorPolicy: its token-limit answer is then in place before
    ErrorPolicy sees the errors."""

    def __init__(self, limits: Limits, checks: DocumentChecks) -> None:
        super().__init__()
        self._limits = limits
        self._checks = checks
        # The cost of the operation, once worked out (for whoever wants to weigh it).
        self.cost: int | None = None
        self._over_tokens = False

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self._limits.max_tokens
        yield
        self._name_the_token_limit()

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            if self._checks.too_many_tokens(context.query):
                # Refused unparsed: Strawberry's own parse stops at the first token, and
                # the answer is then named the token limit (_name_the_token_limit).
                self._over_tokens = True
                context.parse_options["max_tokens"] = 0
            else:
                # A failure is left to Strawberry's own parse, which makes it the answer.
                with suppress(GraphQLError):
                    context.graphql_document = self._checks.parse(context.query)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None:
            schema = context.schema._schema
            errors = self._checks.errors(
                schema, context.query, document, tuple(context.validation_rules)
            )
            if not errors:
                # `operation_name` falls back to the first operation's; the name the
                # client sent (or None) is the one the specification selects by.
                sent = context._provided_operation_name
                errors = operation_selection_errors(document, sent)
            if not errors:
                analysis = self._checks.cost(
                    schema, document, context.variables, context.operation_name
                )
                self.cost = analysis.cost
                if analysis.page_size_errors:
                    errors = list(analysis.page_size_errors)
                elif analysis.cost > self._limits.max_cost:
                    errors = [too_complex("cost", self._limits.max_cost, analysis.cost)]
            # Set, even empty: Strawberry then skips its own validation.
            context.pre_execution_errors = errors
        yield

    def _name_the_token_limit(self) -> None:
        context = self.execution_context
        result = context.result
        if context.graphql_document is not None or result is None or not result.errors:
            return
        limit = self._limits.max_tokens
        parser_says = f"Syntax Error: Document contains more than {limit} tokens. Parsing aborted."
        said = len(result.errors) == 1 and result.errors[0].message == parser_says
        if said or self._over_tokens:
            result.errors = [too_complex("tokens", limit, limit + 1, more_than=True)]
