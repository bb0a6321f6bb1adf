"""Measures of a GraphQL document that need neither the schema nor the variables, so one
answer serves every request with the same text: directives, aliases and depth; and the
fields, and how often one response key repeats in a selection.

Fields bound validation's work: graphql-core's OverlappingFieldsCanBeMerged compares the
fields that share a response key in one selection pairwise, so `{ viewer { id } viewer
{ id } ... }` took 51 ms to validate at 100 repetitions, 266 ms at 200 and 1.8 s at 500,
and 1,000 repeated leaves 163 ms (measured); `repeated` bounds that quadratic term and
`fields` the linear rest, before validation runs.

Fragments count where they are spread: a fragment spread three times counts its aliases
three times, and its fields as deep as the spread sits. Each fragment is measured once,
dependencies first and without recursion from one fragment into another, so a long chain
or a "bomb" of fragments spreading fragments costs linear time and can never exhaust the
stack. A spread that closes a cycle counts as empty here; validation reports the cycle.
Recursion within one definition is bounded by the parser, which refuses deep nesting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Visitor,
    visit,
)

# Introspection answers from the schema in memory; graphql-core's MaxIntrospectionDepthRule
# bounds its recursive fields, and GraphiQL's own introspection query is 14 deep.
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


@dataclass(frozen=True, slots=True)
class Shape:
    """The largest of the document's operations: aliases and depth (fields on the longest
    path, the root field counting 1)."""

    aliases: int
    depth: int


_EMPTY = Shape(aliases=0, depth=0)


class _DirectiveCounter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def enter_directive(self, *_args: object) -> None:
        self.count += 1


def count_directives(document: DocumentNode) -> int:
    """Every directive written in the document, used or not."""
    counter = _DirectiveCounter()
    visit(document, counter)
    return counter.count


def shape(document: DocumentNode) -> Shape:
    fragments: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            # Duplicate names are a validation error; the first one stands in for both.
            fragments.setdefault(definition.name.value, definition)
    measured: dict[str, Shape] = {}
    for name in _dependencies_first(fragments):
        measured[name] = _measure(fragments[name].selection_set, measured)
    operations = [
        _measure(definition.selection_set, measured)
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    ]
    return Shape(
        aliases=max((o.aliases for o in operations), default=0),
        depth=max((o.depth for o in operations), default=0),
    )


def _measure(selection_set: SelectionSetNode, measured: dict[str, Shape]) -> Shape:
    aliases = depth = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            aliases += selection.alias is not None
            if selection.selection_set is None:
                depth = max(depth, 1)
                continue
            child = _measure(selection.selection_set, measured)
            aliases += child.aliases
            introspection = selection.name.value in INTROSPECTION_FIELDS
            depth = max(depth, 1 if introspection else 1 + child.depth)
        elif isinstance(selection, InlineFragmentNode):
            child = _measure(selection.selection_set, measured)
            aliases += child.aliases
            depth = max(depth, child.depth)
        elif isinstance(selection, FragmentSpreadNode):
            child = measured.get(selection.name.value, _EMPTY)
            aliases += child.aliases
            depth = max(depth, child.depth)
    return Shape(aliases=aliases, depth=depth)


@dataclass(frozen=True, slots=True)
class FieldCount:
    """The largest of the document's operations: every field selection (introspection's
    included), and the most fields that share one response key in a single selection,
    its inline fragments and spread fragments merged in."""

    fields: int
    repeated: int
    # The response keys a spread of this selection adds to the selection it sits in.
    keys: Counter[str] = field(default_factory=Counter, compare=False, repr=False)


_NO_FIELDS = FieldCount(fields=0, repeated=0)


def count_fields(document: DocumentNode) -> FieldCount:
    fragments: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            fragments.setdefault(definition.name.value, definition)
    counted: dict[str, FieldCount] = {}
    for name in _dependencies_first(fragments):
        counted[name] = _count(fragments[name].selection_set, counted)
    operations = [
        _count(definition.selection_set, counted)
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    ]
    return FieldCount(
        fields=max((o.fields for o in operations), default=0),
        repeated=max((o.repeated for o in operations), default=0),
    )


def _count(selection_set: SelectionSetNode, counted: dict[str, FieldCount]) -> FieldCount:
    fields = repeated = 0
    keys: Counter[str] = Counter()
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            fields += 1
            keys[(selection.alias or selection.name).value] += 1
            if selection.selection_set is not None:
                child = _count(selection.selection_set, counted)
                fields += child.fields
                repeated = max(repeated, child.repeated)
            continue
        if isinstance(selection, InlineFragmentNode):
            child = _count(selection.selection_set, counted)
        elif isinstance(selection, FragmentSpreadNode):
            child = counted.get(selection.name.value, _NO_FIELDS)
        else:  # pragma: no cover - fields, inline fragments and spreads are all there is
            continue
        fields += child.fields
        repeated = max(repeated, child.repeated)
        keys.update(child.keys)
    repeated = max(repeated, max(keys.values(), default=0))
    return FieldCount(fields=fields, repeated=repeated, keys=keys)


def _spread_names(selection_set: SelectionSetNode) -> Iterator[str]:
    """The fragments a definition spreads, not following them into other fragments."""
    pending = [selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                yield selection.name.value
            elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                pending.append(selection.selection_set)


def _dependencies_first(fragments: dict[str, FragmentDefinitionNode]) -> list[str]:
    """Fragment names, each after every fragment it spreads (an iterative depth-first
    post-order; an edge back into the current path, a cycle, is skipped)."""
    order: list[str] = []
    seen: set[str] = set()
    for root in fragments:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, _spread_names(fragments[root].selection_set))]
        while stack:
            name, spreads = stack[-1]
            following = next((s for s in spreads if s in fragments and s not in seen), None)
            if following is None:
                stack.pop()
                order.append(name)
            else:
                seen.add(following)
                stack.append((following, _spread_names(fragments[following].selection_set)))
    return order
