"""Compiled execution for known documents: a plan per (document, operation) that walks
the loaded objects straight into the result dicts (graphql-jit's idea, for Python).

Hand-written because nothing like it exists for Python: graphql-core executes every
document field by field, deciding per value what to do (graphql-core #189 asks for
compiled queries; strawberry #3544 for a faster executor), and that bookkeeping was
about 21% of a dashboard request's CPU (bench/profiles/NOTE.md). An independent
profile measured a compiled-plan stand-in at execution 16.3 ms -> 5.2 ms, about -34% of
a whole request. `make bench-ab` prices this one, in two runs of 12 rounds on the
shared 2-vCPU machine: without plans (`nocompiled`) a dashboard costs 1.142x to 1.156x
the CPU (-12% to -13%); with plans but the guarded fields through Strawberry's wrapper
(`noguards`, guarded.py's share) 1.037x to 1.051x; with every plain scalar and enum
field through its completer and its path built (`noleaves`, plan.py's `Leaf`) 1.09x.
The stand-in's -34% is not reached: every object still goes through graphql-core's
error handling, paths and `gather_with_cancel`, and the resolvers and rules themselves
run unchanged (bench/profiles/NOTE.md).

Every document after its first parse (persisted, trusted and cached alike: the parse
cache hands the same node for the same text) gets a plan the first time it runs:
plan.py decides each field's reader, arguments and completer once; guarded.py applies
the field rules of guarded fields per object without Strawberry's wrapper; run.py walks
it with graphql-core's own error handling. What the compiler does not support runs on
graphql-core, counted by reason (reasons.py, `gateway_compiled_fallbacks`). Answers are
identical to graphql-core's, errors and their order included: tests/schema/compiled/
compares both executors on every known document (the clients', the partner guide's,
every query in the test suite) for several tokens, on a toy schema with the real rules
and unusual values, and on generated documents over generated downstream data with
injected failures.
"""

from app.schema.compiled.reasons import Fallback
from app.schema.compiled.run import (
    CompiledExecutor,
    CompletedLeavesExecutor,
    WrappedGuardsExecutor,
    compiled_executor,
)

__all__ = [
    "CompiledExecutor",
    "CompletedLeavesExecutor",
    "Fallback",
    "WrappedGuardsExecutor",
    "compiled_executor",
]
