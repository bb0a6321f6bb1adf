"""The executor that walks a compiled plan (plan.py), falling back to LeanExecutor, and so
to graphql-core, for what the compiler leaves alone (reasons.py).

It is graphql-core's executor class with its per-field work replaced, not a second
engine: the operation, the response, error location and null bubbling
(`handle_field_error`), abstract types and unusual values are still graphql-core's own
methods. What changes is that nothing is decided per value any more: the fields of an
object are collected once per document (not once per request), each field's
definition, reader, literal arguments and completer come from its `Step`, and a plain
field's value is read and serialised without an info object or a path unless it fails.
The asynchronous shape is graphql-core's exactly: the same awaitables in the same places,
gathered with the same `gather_with_cancel`, so DataLoader batches, downstream calls and
the order of errors are the same.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar
from weakref import WeakKeyDictionary

from graphql import GraphQLObjectType, GraphQLOutputType, GraphQLSchema, Undefined
from graphql.execution.collect_fields import CollectedFields, FieldDetailsList, GroupedFieldSet
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path
from graphql.pyutils.gather_with_cancel import gather_with_cancel

from app.schema.compiled.guarded import LazyInfo
from app.schema.compiled.plan import Completer, Plan, Step, build_steps, resolve_info
from app.schema.compiled.reasons import Fallback, directive_variables, document_reason
from app.schema.executor import LeanExecutor

MAX_PLANS = 512
_PlanKey = tuple[int, tuple[Any, ...]]


class _Plans:
    """One schema's plans, least recently used dropped first; and what each operation
    node falls back for. Keyed by the node's identity: the parse cache hands the same
    node for the same text (app/schema/limits/extension.py), and the plan keeps it alive."""

    def __init__(self) -> None:
        self.plans: OrderedDict[_PlanKey, Plan] = OrderedDict()
        self.verdicts: OrderedDict[int, tuple[Any, Fallback | None, tuple[str, ...]]] = (
            OrderedDict()
        )


_plans_by_schema: WeakKeyDictionary[GraphQLSchema, _Plans] = WeakKeyDictionary()


def _plans_of(schema: GraphQLSchema) -> _Plans:
    plans = _plans_by_schema.get(schema)
    if plans is None:
        plans = _plans_by_schema.setdefault(schema, _Plans())
    return plans


def fallback_counter(schema: GraphQLSchema) -> Callable[[str], None] | None:
    strawberry_schema = getattr(schema, "_strawberry_schema", None)
    return getattr(strawberry_schema, "count_compiled_fallback", None)


class CompiledExecutor(LeanExecutor):
    # Guarded fields' rules applied straight from the plan (guarded.py).
    guard_fields: ClassVar[bool] = True
    # Plain scalar and enum fields serialised inline by the walk (plan.py's `Leaf`).
    leaf_steps: ClassVar[bool] = True
    _plan: Plan | None = None

    def execute_operation(self, serially: bool | None = None) -> Any:
        reason = self._static_reason()
        if reason is None:
            self._plan = self._plan_for_operation()
        else:
            count = fallback_counter(self.schema)
            if count is not None:
                count(reason.value)
        return super().execute_operation(serially)

    def _static_reason(self) -> Fallback | None:
        if not self._short_path:
            return Fallback.MIDDLEWARE
        strawberry_schema = getattr(self.schema, "_strawberry_schema", None)
        if self.abort_signal is not None or (
            strawberry_schema is not None and strawberry_schema.exception_handlers
        ):
            return Fallback.EXECUTION_OPTIONS
        return self._verdict()[1]

    def _verdict(self) -> tuple[Any, Fallback | None, tuple[str, ...]]:
        verdicts = _plans_of(self.schema).verdicts
        operation = self.operation
        verdict = verdicts.get(id(operation))
        if verdict is None or verdict[0] is not operation:
            verdict = (
                operation,
                document_reason(operation, self.fragment_definitions),
                directive_variables(operation, self.fragment_definitions),
            )
            verdicts[id(operation)] = verdict
            if len(verdicts) > MAX_PLANS:
                verdicts.popitem(last=False)
        return verdict

    def _plan_for_operation(self) -> Plan:
        plans = _plans_of(self.schema).plans
        operation = self.operation
        names = self._verdict()[2]
        values = self.variable_values.coerced
        key = (id(operation), tuple(repr(values.get(name, Undefined)) for name in names))
        plan = plans.get(key)
        if plan is None or plan.operation is not operation:
            plan = plans[key] = Plan(operation)
            if len(plans) > MAX_PLANS:
                plans.popitem(last=False)
        else:
            plans.move_to_end(key)
        return plan

    def execute_collected_root_fields(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: GroupedFieldSet,
        serially: bool,
        new_defer_usages: Any,
    ) -> Any:
        plan = self._plan
        if plan is not None:
            # The same document with the same directive values collects the same fields:
            # the first request's set, whose identity the plan's steps are keyed by.
            if plan.root is None:
                plan.root = grouped_field_set
            grouped_field_set = plan.root
        return super().execute_collected_root_fields(
            root_type, root_value, grouped_field_set, serially, new_defer_usages
        )

    def collect_subfields(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> CollectedFields:
        plan = self._plan
        if plan is None:
            return super().collect_subfields(return_type, field_details_list)
        key = (return_type.name, id(field_details_list))
        cached = plan.subfields.get(key)
        if cached is None or cached[0] is not field_details_list:
            cached = (
                field_details_list,
                super().collect_subfields(return_type, field_details_list),
            )
            plan.subfields[key] = cached
        return cached[1]

    def execute_object(
        self,
        object_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        result: Any,
    ) -> Any:
        grouped = self.collect_subfields(object_type, field_details_list)[0]
        return self.execute_fields(object_type, result, path, grouped, None)

    def info_for(self, step: Step, info: Any, path: Any) -> Any:
        return info if info is not None else resolve_info(self, step, path)

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        plan = self._plan
        if plan is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        key = (parent_type.name, id(grouped_field_set))
        cached = plan.steps.get(key)
        if cached is None or cached[0] is not grouped_field_set:
            cached = (grouped_field_set, build_steps(self, parent_type, grouped_field_set))
            plan.steps[key] = cached
        return self._run_steps(cached[1], parent_type, source_value, path)

    def _run_steps(
        self, steps: list[Step], parent_type: GraphQLObjectType, source: Any, path: Path | None
    ) -> Any:
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        type_name = parent_type.name
        try:
            for step in steps:
                key = step.key
                leaf = step.leaf
                if leaf is not None:
                    # A plain scalar or enum (plan.py's `Leaf`): serialised inline when
                    # nothing about the value needs the completer; no path is built.
                    read = step.read
                    assert read is not None  # noqa: S101 - a leaf is a plain field
                    try:
                        value = read(source)
                    except Exception as raw_error:  # noqa: BLE001 - graphql-core's field boundary
                        # Raises for a non-null field (null bubbling), as _read does.
                        self._failed(step, Path(path, key, type_name), raw_error)
                        results[key] = None
                        continue
                    if type(value) in leaf.settled:
                        try:
                            coerced = leaf.coerce(value)
                        except Exception:  # noqa: BLE001 - reported by the completer below
                            coerced = None
                        if coerced is not None and coerced is not Undefined:
                            results[key] = coerced
                            continue
                    elif value is None and leaf.nullable:
                        results[key] = None
                        continue
                    result = self._complete_read(step, value, Path(path, key, type_name))
                    results[key] = result
                    if is_awaitable(result):
                        awaitable_fields.append(key)
                    continue
                field_path = Path(path, key, type_name)
                if step.read is not None:
                    result = self._read(step, source, field_path)
                elif step.guarded is not None:
                    result = self._guarded(step, source, field_path)
                else:
                    result = self._resolved(step, source, field_path)
                results[key] = result
                if is_awaitable(result):
                    awaitable_fields.append(key)
        except Exception:  # noqa: BLE001 - re-raised once the fields still running are settled, as graphql-core does
            if awaitable_fields:
                self.settle_in_background([results[key] for key in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                key = awaitable_fields[0]
                results[key] = await results[key]
            else:
                awaited = await gather_with_cancel(*(results[key] for key in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def _failed(self, step: Step, path: Path, raw_error: Exception) -> None:
        self.handle_field_error(raw_error, step.return_type, step.field_details_list, path)

    def _complete_read(self, step: Step, result: Any, path: Path) -> Any:
        # A plain field's value once read: by _read, or by the walk for a leaf it could
        # not serialise inline (the same serialiser again, so the same answer or the
        # same error, at its path).
        try:
            if self.is_awaitable(result):
                return self._step_later(step, resolve_info(self, step, path), path, result)
            completed = step.complete(self, step, None, path, result)
            if self.is_awaitable(completed):
                return self._step_settled(step, path, completed)
        except Exception as raw_error:  # noqa: BLE001 - graphql-core's field boundary
            self.handle_field_error(raw_error, step.return_type, step.field_details_list, path)
            return None
        return completed

    def _read(self, step: Step, source: Any, path: Path) -> Any:
        # app/schema/executor.py's short path, with the completer decided ahead.
        try:
            assert step.read is not None  # noqa: S101 - chosen by the caller
            result = step.read(source)
        except Exception as raw_error:  # noqa: BLE001 - graphql-core's field boundary
            self.handle_field_error(raw_error, step.return_type, step.field_details_list, path)
            return None
        return self._complete_read(step, result, path)

    def _guarded(self, step: Step, source: Any, path: Path) -> Any:
        # The field's rules and resolver straight from the plan (guarded.py).
        try:
            assert step.guarded is not None  # noqa: S101 - chosen by the caller
            result = step.guarded(source, LazyInfo(self, step, path))
            if self.is_awaitable(result):
                return self._step_later(step, None, path, result)
            completed = step.complete(self, step, None, path, result)
            if self.is_awaitable(completed):
                return self._step_settled(step, path, completed)
        except Exception as raw_error:  # noqa: BLE001 - graphql-core's field boundary
            self.handle_field_error(raw_error, step.return_type, step.field_details_list, path)
            return None
        return completed

    def _resolved(self, step: Step, source: Any, path: Path) -> Any:
        # graphql-core's execute_field, with what it decides per call decided ahead.
        info = resolve_info(self, step, path)
        try:
            args = step.args
            if args is None:
                details = step.field_details_list[0]
                args = get_argument_values(
                    step.field_def,
                    details.node,
                    self.variable_values,
                    details.fragment_variable_values,
                    self.hide_suggestions,
                )
            result = step.resolve(source, info, **args)
            if self.is_awaitable(result):
                return self._step_later(step, info, path, result)
            completed = step.complete(self, step, info, path, result)
            if self.is_awaitable(completed):
                return self._step_settled(step, path, completed)
        except Exception as raw_error:  # noqa: BLE001 - graphql-core's field boundary
            self.handle_field_error(raw_error, step.return_type, step.field_details_list, path)
            return None
        return completed

    async def _step_settled(self, step: Step, path: Path, completed: Awaitable[Any]) -> Any:
        try:
            return await completed
        except Exception as raw_error:  # noqa: BLE001 - graphql-core's field boundary
            self.handle_field_error(raw_error, step.return_type, step.field_details_list, path)
            return None

    async def _step_later(self, step: Step, info: Any, path: Path, result: Awaitable[Any]) -> Any:
        # graphql-core's complete_awaitable_value.
        try:
            resolved = await self.with_abort_signal(result)
            completed = step.complete(self, step, info, path, resolved)
            if self.is_awaitable(completed):
                completed = await completed
        except Exception as raw_error:  # noqa: BLE001 - graphql-core's field boundary
            self.handle_field_error(raw_error, step.return_type, step.field_details_list, path)
            completed = None
        return completed

    def complete_items(  # noqa: PLR0913, PLR0917 - one list's completion, as graphql-core's
        self,
        item: Completer,
        item_type: GraphQLOutputType,
        step: Step,
        info: Any,
        path: Path,
        items: list[Any] | tuple[Any, ...],
    ) -> Any:
        # graphql-core's complete_iterable_value (no @stream: that falls back).
        is_awaitable = self.is_awaitable
        completed_results: list[Any] = []
        append = completed_results.append
        awaitable_indices: list[int] = []
        try:
            for index, value in enumerate(items):
                item_path = path.add_key(index, None)
                if is_awaitable(value):
                    append(self._item_later(item, item_type, step, info, item_path, value))
                    awaitable_indices.append(index)
                    continue
                try:
                    completed = item(self, step, info, item_path, value)
                    if is_awaitable(completed):
                        append(self._item_settled(item_type, step, item_path, completed))
                        awaitable_indices.append(index)
                    else:
                        append(completed)
                except Exception as raw_error:  # noqa: BLE001 - graphql-core's item boundary
                    self.handle_field_error(
                        raw_error, item_type, step.field_details_list, item_path
                    )
                    append(None)
        except Exception:  # noqa: BLE001 - re-raised once the items still running are settled, as graphql-core does
            pending = [completed_results[index] for index in awaitable_indices]
            if pending:
                self.settle_in_background(pending)
            raise
        if not awaitable_indices:
            return completed_results

        async def get_completed_results() -> list[Any]:
            if len(awaitable_indices) == 1:
                index = awaitable_indices[0]
                completed_results[index] = await completed_results[index]
            else:
                awaited = await gather_with_cancel(
                    *(completed_results[index] for index in awaitable_indices)
                )
                for index, value in zip(awaitable_indices, awaited, strict=True):
                    completed_results[index] = value
            return completed_results

        return get_completed_results()

    async def _item_settled(
        self, item_type: Any, step: Step, path: Path, completed: Awaitable[Any]
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:  # noqa: BLE001 - graphql-core's item boundary
            self.handle_field_error(raw_error, item_type, step.field_details_list, path)
            return None

    async def _item_later(
        self, item: Completer, item_type: Any, step: Step, info: Any, path: Path, value: Any
    ) -> Any:
        try:
            resolved = await self.with_abort_signal(value)
            completed = item(self, step, info, path, resolved)
            if self.is_awaitable(completed):
                completed = await completed
        except Exception as raw_error:  # noqa: BLE001 - graphql-core's item boundary
            self.handle_field_error(raw_error, item_type, step.field_details_list, path)
            return None
        return completed


class WrappedGuardsExecutor(CompiledExecutor):
    """Compiled plans with the guarded fields left to Strawberry's resolver wrapper (the
    `compiled_guards` lever off): what the benchmark prices guarded.py against."""

    guard_fields: ClassVar[bool] = False


class CompletedLeavesExecutor(CompiledExecutor):
    """Compiled plans with every plain scalar and enum field through its completer (the
    `leaf_steps` lever off): what the benchmark prices plan.py's `Leaf` against."""

    leaf_steps: ClassVar[bool] = False


class _WrappedGuardsCompletedLeaves(WrappedGuardsExecutor):
    leaf_steps: ClassVar[bool] = False


def compiled_executor(*, guard_fields: bool, leaf_steps: bool) -> type[CompiledExecutor]:
    """The compiled executor with the plans' levers as chosen (app/levers.py)."""
    if guard_fields:
        return CompiledExecutor if leaf_steps else CompletedLeavesExecutor
    return WrappedGuardsExecutor if leaf_steps else _WrappedGuardsCompletedLeaves
