"""What a request costs against its caller's budget.

The seam for a full cost analysis is the `weigh` function admission is built with
(app/admission.py); `request_weight` is the default, an estimate from the parsed
document: one token per root field of
the operation that will run (each root field is its own resolver tree and its own
downstream calls; aliases make more), at least one. A document that does not parse or
names no runnable operation costs one: it will be refused without running.

It parses through Strawberry's shared parse cache (same size as the schema's ParserCache,
same options), so the execution that follows does not parse the document again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import ParserCache

PARSE_CACHE_SIZE = 256
parse_document = ParserCache(maxsize=PARSE_CACHE_SIZE).cached_parse_document


def request_weight(
    query: str, operation_name: str | None, variables: Mapping[str, Any] | None = None
) -> int:
    """Tokens this request costs; `variables` is for a cost analysis (`first: $n`)."""
    try:
        document: DocumentNode = parse_document(query)
    except GraphQLError:
        return 1
    operation = _operation(document, operation_name)
    if operation is None:
        return 1
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    return max(1, _root_fields(operation.selection_set, fragments, set()))


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((op for op in operations if op.name is not None and op.name.value == name), None)


def _root_fields(
    selections: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    seen: set[str],
) -> int:
    count = 0
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            count += 1
        elif isinstance(selection, InlineFragmentNode):
            count += _root_fields(selection.selection_set, fragments, seen)
        else:  # the third and last kind of selection
            name = cast(FragmentSpreadNode, selection).name.value
            # Validation refuses cycles and unknown fragments later; count each once here.
            if name in fragments and name not in seen:
                seen.add(name)
                count += _root_fields(fragments[name].selection_set, fragments, seen)
    return count
