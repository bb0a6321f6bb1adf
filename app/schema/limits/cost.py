"""What one GraphQL operation may cost downstream, worked out before it runs.

`document_cost(document, variables, operation_name, schema)` is a pure function of a
parsed, valid document, the request's raw variables and the graphql-core schema
(`strawberry_schema._schema`); the rate limiter weighs requests with it. The unit is one
downstream request, counted for the worst case the schema allows:

- a connection (a field with `first`) is one listing call per parent object it is resolved
  for, so `customers(first: 20) { edges { node { invoices(first: 50) {...} } } }` costs
  1 + 20: nested connections multiply;
- any other field that reads a business's objects (the fields carrying `Owned`: single
  objects, lists of them, `balance`; and value fields marked READS_DOWNSTREAM, such as
  `Invoice.amountPending`) goes through the per-request loaders, which batch
  100 ids a call: one call per 100 parent objects, rounded up;
- a mutation field counts MUTATION_COST for its own reads and writes;
- introspection makes no downstream call but takes CPU and bytes: `__schema` counts
  `introspection_cost` (GRAPHQL_INTROSPECTION_COST, 200: one full introspection takes
  about 70 ms of CPU, where a dashboard of cost 55 takes about 27 ms), `__type` a
  twentieth of it;
- scalars, enums, values held in their parent (Money, lines, page info) and what comes
  from the token (viewer, memberships) cost nothing.

How many parent objects a field has is the product of the sizes of the lists above it:
a connection's `edges` hold `first` items (the argument's default when not given),
`nodes(ids:)` as many as ids, and any other list is assumed full, MAX_PAGE_SIZE items.
Fields are collected as execution collects them (a fragment spread twice in one
selection counts once), `@skip` and `@include` are not evaluated (an upper bound), and an
operation costs at least 1.

The same walk finds every `first` outside 1..MAX_PAGE_SIZE and every `nodes(ids:)` of
more than MAX_NODES ids, literal or from a variable, so such a request is refused with
BAD_USER_INPUT before anything runs, or any of its variables is coerced.

Call it on a document that has passed the depth limit and validation (DocumentLimits
does, then keeps the result in its `cost`): the walk recurses once per field level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    ValueNode,
    VariableNode,
    get_named_type,
    value_from_ast_untyped,
)

from app.downstream.reads import BATCH_LIMIT
from app.schema.types.fields import READS_DOWNSTREAM
from app.schema.types.guards import Owned
from app.schema.types.pagination import DEFAULT_PAGE_SIZE, MAX_NODES, MAX_PAGE_SIZE

MUTATION_COST = 10

# What a `__schema` introspection costs by default (GRAPHQL_INTROSPECTION_COST).
INTROSPECTION_COST = 200
Composite = GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType


@dataclass(frozen=True, slots=True)
class CostAnalysis:
    cost: int
    # One BAD_USER_INPUT error per `first` outside 1..MAX_PAGE_SIZE and per `ids` list
    # longer than MAX_NODES.
    page_size_errors: tuple[GraphQLError, ...]


def document_cost(
    document: DocumentNode,
    variables: Mapping[str, object] | None,
    operation_name: str | None,
    schema: GraphQLSchema,
    *,
    introspection_cost: int = INTROSPECTION_COST,
) -> int:
    """The worst-case number of downstream requests of the operation that would run (of
    all operations when the name does not pick one); at least 1. A `first` out of range
    counts as MAX_PAGE_SIZE here: `analyse_cost` reports it."""
    return analyse_cost(
        document, variables, operation_name, schema, introspection_cost=introspection_cost
    ).cost


def analyse_cost(
    document: DocumentNode,
    variables: Mapping[str, object] | None,
    operation_name: str | None,
    schema: GraphQLSchema,
    *,
    introspection_cost: int = INTROSPECTION_COST,
) -> CostAnalysis:
    operations = _operations(document, operation_name)
    defaults = {
        definition.variable.name.value: definition.default_value
        for operation in operations
        for definition in operation.variable_definitions or ()
        if definition.default_value is not None
    }
    walker = _Walker(schema, document, variables or {}, defaults, introspection_cost)
    total = 0
    for operation in operations:
        root = {
            OperationType.QUERY: schema.query_type,
            OperationType.MUTATION: schema.mutation_type,
            OperationType.SUBSCRIPTION: schema.subscription_type,
        }[operation.operation]
        if root is not None:
            total += walker.selections(root, (operation.selection_set,), 1, None)
    return CostAnalysis(cost=max(1, total), page_size_errors=tuple(walker.problems))


def _operations(
    document: DocumentNode, operation_name: str | None
) -> list[OperationDefinitionNode]:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        return [o for o in operations if o.name is not None and o.name.value == operation_name]
    # Without a name only a lone operation runs; otherwise execution refuses, and the sum
    # of all is the safe answer meanwhile.
    return operations


def _reads(field: GraphQLField) -> bool:
    definition = field.extensions.get("strawberry-definition")
    metadata = getattr(definition, "metadata", None) or {}
    if metadata.get(READS_DOWNSTREAM):
        return True
    return any(isinstance(extension, Owned) for extension in getattr(definition, "extensions", ()))


def _is_list(type_: GraphQLOutputType) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


class _Walker:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, object],
        defaults: Mapping[str, ValueNode],
        introspection_cost: int,
    ) -> None:
        self._schema = schema
        self._introspection = {
            "__schema": introspection_cost,
            "__type": max(1, introspection_cost // 20),
        }
        self._fragments: dict[str, FragmentDefinitionNode] = {}
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                self._fragments.setdefault(definition.name.value, definition)
        self._variables = variables
        self._defaults = defaults
        # The same selections under the same parent and list sizes cost the same: a
        # document whose fragments repeat (a "fragment bomb") is walked once per shape.
        self._memo: dict[tuple[object, ...], int] = {}
        self._checked: set[int] = set()
        self.problems: list[GraphQLError] = []

    def selections(
        self,
        parent: Composite,
        sets: tuple[SelectionSetNode, ...],
        parents: int,
        page: int | None,
    ) -> int:
        key = (parent.name, tuple(id(s) for s in sets), parents, page)
        cost = self._memo.get(key)
        if cost is None:
            cost = sum(
                self._field(owner, nodes, parents, page)
                for owner, nodes in self._collect(parent, sets).values()
            )
            self._memo[key] = cost
        return cost

    def _collect(
        self, parent: Composite, sets: Sequence[SelectionSetNode]
    ) -> dict[tuple[str, str], tuple[Composite, list[FieldNode]]]:
        """Fields by response key and the type they are read on (both branches of
        `... on A` / `... on B` count: the larger of them is not known before running)."""
        groups: dict[tuple[str, str], tuple[Composite, list[FieldNode]]] = {}
        visited: set[str] = set()
        pending = [(parent, selection_set) for selection_set in sets]
        while pending:
            owner, selection_set = pending.pop()
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    response_key = (selection.alias or selection.name).value
                    groups.setdefault((owner.name, response_key), (owner, []))[1].append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    condition = self._condition(selection.type_condition, owner)
                    pending.append((condition, selection.selection_set))
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self._fragments.get(name)
                    if fragment is None or name in visited:
                        continue
                    visited.add(name)
                    condition = self._condition(fragment.type_condition, owner)
                    pending.append((condition, fragment.selection_set))
        return groups

    def _condition(self, condition: NamedTypeNode | None, owner: Composite) -> Composite:
        if condition is None:
            return owner
        named = self._schema.get_type(condition.name.value)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
            return named
        return owner

    def _field(
        self, owner: Composite, nodes: list[FieldNode], parents: int, page: int | None
    ) -> int:
        node = nodes[0]
        introspection = self._introspection.get(node.name.value)
        if introspection is not None:
            # Answered from memory, but CPU and bytes like a page of reads: priced so that
            # a document of aliased introspections is refused, and weighs what it costs.
            return introspection * parents
        if isinstance(owner, GraphQLUnionType):
            return 0
        field = owner.fields.get(node.name.value)
        if field is None:
            # __typename, or a field validation has already refused.
            return 0
        first = self._page_size(field, node)
        cost = 0
        if owner is self._schema.mutation_type:
            cost = MUTATION_COST
        elif _reads(field):
            cost = parents if first is not None else -(-parents // BATCH_LIMIT)
        named = get_named_type(field.type)
        sets = tuple(n.selection_set for n in nodes if n.selection_set is not None)
        if not sets or not isinstance(
            named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType
        ):
            return cost
        if first is not None:
            # The connection object is one per parent; its `edges` hold `first` each.
            return cost + self.selections(named, sets, parents, first)
        size = self._list_size(field, node, page) if _is_list(field.type) else 1
        return cost + self.selections(named, sets, parents * size, None)

    def _page_size(self, field: GraphQLField, node: FieldNode) -> int | None:
        if "first" not in field.args:
            return None
        value = self._argument(field, node, "first")
        if value is None:
            return DEFAULT_PAGE_SIZE
        if isinstance(value, bool) or not isinstance(value, int):
            # Not an Int: refused when the variables are coerced, before any resolver.
            return MAX_PAGE_SIZE
        if 1 <= value <= MAX_PAGE_SIZE:
            return value
        self._refuse(node, "first", f"first must be between 1 and {MAX_PAGE_SIZE}.")
        return MAX_PAGE_SIZE

    def _refuse(self, node: FieldNode, name: str, message: str) -> None:
        """One BAD_USER_INPUT error per argument, however often its field is walked."""
        if id(node) in self._checked:
            return
        self._checked.add(id(node))
        argument = next((a for a in node.arguments or () if a.name.value == name), node)
        self.problems.append(
            GraphQLError(message, nodes=[argument], extensions={"code": "BAD_USER_INPUT"})
        )

    def _list_size(self, field: GraphQLField, node: FieldNode, page: int | None) -> int:
        if page is not None:
            return page
        if "ids" in field.args:
            ids = self._argument(field, node, "ids")
            if isinstance(ids, list):
                if len(ids) > MAX_NODES:
                    # Refused here, before tens of thousands of ids would be coerced.
                    self._refuse(node, "ids", f"nodes takes at most {MAX_NODES} ids.")
                return len(ids)
        return MAX_PAGE_SIZE

    def _argument(self, field: GraphQLField, node: FieldNode, name: str) -> object:
        """The argument's value as the resolver would get it, from the raw variables (not
        yet coerced: the caller checks the type); None when null or not given."""
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            value = argument.value
            if not isinstance(value, VariableNode):
                return value_from_ast_untyped(value, dict(self._variables))
            variable = value.name.value
            if variable in self._variables:
                return self._variables[variable]
            if variable in self._defaults:
                return value_from_ast_untyped(self._defaults[variable])
            break  # an absent variable leaves the argument unset
        default = field.args[name].default_value
        return None if default is Undefined else default
