"""Why an operation runs on graphql-core's executor instead of a compiled plan.

A closed set, so that the fallback metric's label (gateway_compiled_fallbacks{reason})
stays bounded: each reason names what the compiler leaves to graphql-core on purpose.
Decided once per document and operation (a plan's key), never per request.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)

# The directives the plan evaluates itself; any other (e.g. @defer, @stream) is left to
# graphql-core.
EVALUATED_DIRECTIVES = frozenset({"skip", "include"})


class Fallback(StrEnum):
    # Mutations run their fields one after another, with side effects: few fields, and
    # graphql-core's serial executor is the reference.
    MUTATION = "mutation"
    SUBSCRIPTION = "subscription"
    # __schema and __type answer from the schema the token may see (visibility.py).
    INTROSPECTION = "introspection"
    # A schema extension with a resolve hook must see every field.
    MIDDLEWARE = "middleware"
    # Strawberry's exception handlers, or an abort signal, change how fields end.
    EXECUTION_OPTIONS = "execution_options"
    DIRECTIVE = "directive"
    # Fragment arguments (an experimental graphql-core feature).
    FRAGMENT_VARIABLES = "fragment_variables"


def document_reason(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> Fallback | None:
    """What in the operation itself the compiler leaves to graphql-core, or None."""
    if operation.operation is OperationType.MUTATION:
        return Fallback.MUTATION
    if operation.operation is not OperationType.QUERY:
        return Fallback.SUBSCRIPTION
    if any(fragment.variable_definitions for fragment in fragments.values()):
        return Fallback.FRAGMENT_VARIABLES
    for selection_set in _selection_sets(operation.selection_set, fragments):
        for selection in selection_set.selections:
            if any(d.name.value not in EVALUATED_DIRECTIVES for d in selection.directives or ()):
                return Fallback.DIRECTIVE
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name.startswith("__") and name != "__typename":
                    return Fallback.INTROSPECTION
    return None


def directive_variables(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> tuple[str, ...]:
    """The variables @skip and @include read: a plan is kept per their values."""
    names: set[str] = set()
    for selection_set in _selection_sets(operation.selection_set, fragments):
        for selection in selection_set.selections:
            for directive in selection.directives or ():
                for argument in directive.arguments or ():
                    value = argument.value
                    if value.kind == "variable":
                        names.add(value.name.value)  # type: ignore[attr-defined]
    return tuple(sorted(names))


def _selection_sets(
    root: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]
) -> Iterator[SelectionSetNode]:
    pending = [root]
    seen: set[str] = set()
    while pending:
        selection_set = pending.pop()
        yield selection_set
        for selection in selection_set.selections:
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in seen:
                    seen.add(name)
                    pending.append(fragment.selection_set)
            elif (
                isinstance(selection, FieldNode | InlineFragmentNode)
                and selection.selection_set is not None
            ):
                pending.append(selection.selection_set)
